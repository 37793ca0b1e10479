"""The parts' summaries told as one text (famcli.summary.summary chooses them): in order, each joined by "Then," or
"In the end," without a link word that leans on a sentence the summary lacks, none told twice (`told_already`),
and how the document ends (its last narrated sentence) when the last part does not say it. docs/summaries.md says
what each rule fixed.
"""

from __future__ import annotations

import re
from collections import Counter

from famcli.summary.notes import Section, cut_sentences
from famcli.summary.telling import finished, last_told

_FUNCTION_WORDS = {"The", "A", "An", "This", "That", "These", "Those", "In", "On", "At", "It", "He", "She", "They",
                   "His", "Her", "Their", "One", "After", "When", "As", "There"}


# "The passage describes Elizabeth's visit to Rosings": what the 135M model writes of nearly every part. The words
# after the verb are what the part tells; the opener says only that it is a text. Told in order, the document
# "opens with", "then turns to" and "ends with" them instead (a report or minutes as well as a story).
_ABOUT_TEXT = re.compile(
    r"^(?:the|this) (?:passage|text|section|excerpt|story|chapter)(?: (?:also|then|further|now|mainly|primarily))? "
    r"(?:describes|depicts|explores|focuses on|is about|introduces|presents|highlights|touches on|concludes|"
    r"reveals|sets the stage for|conveys|portrays|is a continuation of|continues|tells of|recounts|shows|"
    r"cent(?:er|re)s on|discusses|deals with|delves into|examines|outlines|details|covers|"
    r"is an? (?:\w+ )?(?:account|description|depiction|story|tale) of)\s+"
    r"(?:(?:a|the) scenes? (?:of|from|involving)\s+)?(?P<rest>.+)$", re.I | re.S)


def told_in_order(texts: list[str], whole: bool = True, names: frozenset[str] | set[str] = frozenset()) -> str:
    """The parts' summaries as one text, in order. A sentence that only says a passage is about something
    tells it instead: the first "It opens with ...", a later part's first "It then turns to ..." (the
    last part's, when the whole document was read, "It ends with ..."), any other "It also tells of ...". A
    part whose first sentence tells its events itself begins "Then," or "In the end,", without a link word of
    its own ("Moreover, ...", "But ..."); its first word keeps its capital only when it is a name (`names`: the
    words of the document's names; without them only a few function words are lowered). A sentence the summary
    has told already is not told again (a text that repeats itself: a log, a transcript, a pasted page)."""
    texts = [_ended(t) for t in texts if t.strip()]
    out, said = [], set()
    for i, text in enumerate(texts):
        last = whole and i == len(texts) - 1 and len(texts) > 2
        k = 0  # the part's sentences told so far: one the summary has already told is not told again
        for sentence in _sentences(text):
            sentence = _unlinked(sentence)
            if told_already(sentence, said):
                continue
            said.add(words_said(sentence))
            about = _ABOUT_TEXT.match(sentence)
            if about and len(about["rest"].split()) >= 3:
                lead = "It also tells of" if k else "It opens with" if i == 0 else \
                    "It ends with" if last else "It then turns to"
                out.append(f"{lead} {_lower_first(about['rest'], names)}")
            elif k == 0 and i > 0 and (_LINK.match(sentence) or _THEN.match(sentence) or _LEANS.match(sentence)):
                out.append(sentence)  # a link of its own: "Next came ...", "He then related ..." (not "Then, he
                # then related"), "Thus spoke my soul ..." (not "Then, thus spoke": it leans on its own link)
            elif k == 0 and i > 0:
                out.append(("In the end, " if last else "Then, ") + _lower_first(_unlinked(sentence, strict=False),
                                                                                   names))
            else:
                out.append(sentence)
            k += 1
    return " ".join(out)


def _ended(text: str) -> str:
    """A part's summary that stops mid-sentence (every candidate did): its whole sentences, or, with none, the
    words it has ended with a full stop, so that the next part's sentence does not run on from it."""
    if finished(text):
        return text.strip()
    whole = _sentences(text)[:-1]
    return " ".join(whole) if whole else text.strip().rstrip(",;:-—") + "."


def _sentences(text: str) -> list[str]:
    out, rest = [], text.strip()
    while rest:
        first = cut_sentences(rest + " ", 1) or rest
        out.append(first)
        rest = rest[len(first):].strip()
    return out


_LINK = re.compile(r"^(?:then|next|later|finally|in the end|meanwhile),?\s+(?=\w)", re.I)
_LEANING = re.compile(r"^(?:(?:moreover|however|besides|indeed|nevertheless|accordingly|consequently|still|now|well|"
                      r"so|thus|therefore),|and|but|yet)\s+(?=\w)", re.I)
# those of them that lean on what came before with no comma either ("Thus spoke my soul"): not cut, the sentence's
# own link
_LEANS = re.compile(r"^(?:accordingly|consequently|so|thus|hence|therefore)\s+(?=\w)", re.I)
_THEN = re.compile(r"^\W*\w+(?:\s+\w+)?,?\s+then\b", re.I)  # "He then ...", "The Queen then ...", "No wonder, then,"
_SUBJECT = re.compile(r"(?:[A-Z“\"‘']|(?:the|a|an|he|she|it|they|we|you|i|his|her|its|their|this|that|these|those|"
                      r"there|one|all|some)\b)")  # what a sentence may begin with once its link word is gone


def _unlinked(sentence: str, strict: bool = True) -> str:
    """A sentence without the link word it opens with ("Then the passage ..."): the order supplies its own.
    Not strict: also without one that leans on a sentence the summary does not have ("Moreover, ...", "But
    ..."), where "Then," is put before it."""
    m = _LINK.match(sentence)
    if m and not _SUBJECT.match(sentence[m.end():]):  # "Next came the guests": the link is the sentence's own
        return sentence
    rest = _LINK.sub("", sentence)
    if not strict:
        cut = _LEANING.sub("", rest)
        rest = cut if len(cut.split()) >= 4 else rest
    return rest[0].upper() + rest[1:] if rest != sentence else sentence


def name_words(sections: list[Section]) -> frozenset[str]:
    """The words of the names the document writes twice or more, what `told_in_order` keeps capitalised after
    "Then,": "Thus Elizabeth", once at a sentence's start, is no name, and "Then, Thus spoke ..." was a capital
    after a comma."""
    uses = sum((s.names for s in sections), Counter())
    return frozenset(w.replace("’", "'") for n, k in uses.items() if k > 1 for w in n.split())


def _lower_first(text: str, names: frozenset[str] | set[str] = frozenset()) -> str:
    """Text to follow "Then, " or "It ends with ": its first word lowered unless it is a name, or "I"."""
    first = text.split()[0]
    bare = first.strip(".,;:!?'\"“”‘’").replace("’", "'").removesuffix("'s")
    if first in _FUNCTION_WORDS or names and bare not in names and bare != "I" and not bare.isupper():
        return text[0].lower() + text[1:]
    return text


def ending_part(parts: list[dict], last: Section) -> dict | None:
    """How a document ends, when the summary of its last part does not say it: the most telling sentence of its
    closing sentence (`closing_sentence`), with the last section's tokens (what `--json` shows as `ending`). None when the
    last part is that section alone, or a part's summary already holds the sentence, or there is one part, or the
    sentence stops mid-way."""
    note = closing_sentence(last)
    text = cut_sentences(note + " ", 1) or note
    whole_line = " ".join(note.split()) in {" ".join(line.split()) for line in last.text.splitlines()}
    if len(parts) < 2 or not (finished(text) or whole_line) or parts[-1]["tokens"][0] >= last.tokens[0] or \
            words_said(text) in {words_said(told) for p in parts for told in _sentences(p["summary"])}:
        return None
    return {"tokens": list(last.tokens), "summary": text, "from": last.source}


def closing_sentence(last: Section) -> str:
    """How a document ends: its last narrated sentence (`last_told`: told, whole, not speech), the sentence
    readers chose as how the book ends for three of the five corpus books (docs/summaries.md, "How it ends");
    not whatever its last section is most about (The Time Machine's last section is most about the night his
    story is told). The last section's own note when it has none (a log)."""
    return last_told(last.text) or last.note


def words_said(sentence: str) -> str:
    """What a sentence says, for telling a repeat: its words, folded for case, without the link a summary
    puts before it."""
    return " ".join(re.findall(r"\w+", _LINK.sub("", sentence.strip()).casefold()))


def told_already(sentence: str, told: set[str]) -> bool:
    """Whether a sentence was told already: the same words, or, for a piece of a sentence (begun in lower case or
    unfinished: a section cut mid-sentence begins with one), words all told in that order. A whole sentence
    inside a longer one is its own ("Alice grows." after "Alice grows taller than the house.")."""
    said = words_said(sentence)
    if said in told:
        return True
    piece = sentence.strip()[:1].islower() or not finished(sentence)
    return piece and any(f" {said} " in f" {t} " for t in told)
