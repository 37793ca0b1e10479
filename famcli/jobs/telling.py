"""A section's own words, where its note cannot be the model's (famcli.jobs.notes.choose_note): the told sentence
that uses most of its particular names (`central_sentence`: whole, narrated, no heading, verse or list), or in a text
of lines (a log) the line least like the others (`telling_line`). docs/summaries.md says what each rule fixed.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from famcli.documents.boilerplate import headings
from famcli.documents.names import uses_name
from famcli.documents.sentences import split_sentences

NAMED = 3  # names that count for a section's own sentence (central_sentence)


def central_sentence(text: str, weights: dict[str, float], shortest: int = 8, longest: int = 45) -> str | None:
    """The sentence of a section that uses most of its particular names (by weight), of a readable length, told
    rather than spoken, a whole sentence (a line of a long one cut at its line breaks is not): what a note falls
    back to when the model's would invent someone. Dialogue (quote marks in it, or inside a quotation the
    paragraph opened before it) quarters a sentence's value; each of these halves it: the first person, a
    fragment (a sentence the splitter began mid-way, in lower case), an opening that leans on the sentence
    before ("But", "Moreover,", "This"). "Henry Clerval was the son of a merchant of Geneva" comes before
    "“I thank you, Walton,” he said", and "Darcy professed a great curiosity to see the view" before "Here,
    Sarah, come to Miss Bennet this moment" (a line of speech). A title in capitals ("Of Whales in Paint; in
    Teeth; in Wood") and a verse are no sentences. Only a sentence's NAMED most particular names count: one
    that lists ten new names ("Monsoons, Pampas, Nor’-Westers, Harmattans, Trades") tells no more for it. In
    prose that names nobody (the last page of a book) the first told sentence is chosen; a text of lines (a
    log) has none (`telling_line` chooses its line)."""
    best, best_score = None, 0.0
    found = split_sentences(text)
    widths = sorted(len(line.strip()) for line in text.splitlines() if line.strip())
    wide = widths[int(0.9 * (len(widths) - 1))] if widths else 0
    lower = set(re.findall(r"\b[a-z][a-z-]+\b", text))
    heads = " ".join(headings(text))  # "CHAPTER 57. Of Whales in Paint; in Teeth; ...": a title, not a sentence
    prose = sum(finished(sentence) for _, sentence in found) >= 0.5 * len(found)  # a log's lines end in no stop
    base = 0.01 if prose else 0.0  # prose that names nobody still has a told sentence; a log has lines
    for (at, sentence), (after, _) in zip(found, found[1:] + [(len(text), "")]):
        words = sentence.split()
        if not shortest <= len(words) <= longest or not finished(sentence) or sentence in heads or \
                _title_case(words, lower) or _verse(text[at:after], wide):
            continue
        value = sum(sorted((w for name, w in weights.items() if uses_name(sentence, name)), reverse=True)[:NAMED])
        value += base
        value *= 0.25 ** bool(_SPOKEN.search(sentence) or _quoted(text, at))
        value *= 0.5 ** (bool(_FIRST_PERSON.search(sentence)) + (not sentence[:1].isupper()) +
                         bool(_LEANS.match(sentence)))
        if value > best_score:
            best, best_score = sentence, value
    return best


_SPOKEN = re.compile(r"[\"“”‘]|(?<![\w.,!?])'|'(?!\w)")
_FIRST_PERSON = re.compile(r"\b(?:I|me|my|mine|we|us|our)\b")
# Openings that lean on the sentence before: a link word, or "This"/"It" for what it said. "He sprang from the
# window" reads alone (someone did something); "So that Monsoons ... might blow Moby Dick" does not.
_LEANS = re.compile(r"(?:And|But|So|Yet|Or|Nor|For|Because|Then|Thus|Hence|Therefore|This|That|These|Those|It|Its|"
                    r"Such)\b|(?:Moreover|However|Besides|Indeed|Nevertheless|Accordingly|Consequently|Still|Again|"
                    r"Now|Well),")


def _quoted(text: str, at: int) -> bool:
    """Whether the sentence starting at `at` lies inside a quotation: one opened earlier in its paragraph and
    not closed (curly quotes, single ones too: a ’ inside a word is an apostrophe; an odd number of straight
    double ones), or one closed later in the paragraph than it opens again (a section that begins in the
    middle of a speech)."""
    start = text.rfind("\n\n", 0, at) + 1
    before = text[start:at]
    if before.count("“") > before.count("”") or before.count('"') % 2 == 1 or \
            before.count("‘") > len(re.findall(r"’(?!\w)", before)):
        return True
    end = text.find("\n\n", at)
    after = text[at:end if end >= 0 else len(text)]
    closes = re.findall(r"[.,!?;—-]([”’])", after)
    return closes.count("”") > after.count("“") or closes.count("’") > after.count("‘")


def _verse(raw: str, wide: int) -> bool:
    """Whether a sentence is laid out as verse ("If I or she should chance to be / Involved in this affair,"),
    where capitals open lines and name nobody: its lines inside (not its first and last, which a wrapped
    paragraph may cut short) all shorter than 3/4 of the text's wide lines (`wide`, its 90th percentile)."""
    inside = [line.strip() for line in raw.strip().splitlines()[1:-1]]
    return bool(inside) and all(len(line) < 0.75 * wide for line in inside)


def _title_case(words: list[str], lower: set[str]) -> bool:
    """A heading (or a list) rather than a sentence: three or more of its words after the first capitalised
    though the text writes them in lower case elsewhere (`lower`): "Stubb and Flask kill a Right Whale; and Then
    Have a Talk over Him", "Of Whales in Paint; in Teeth; in Wood". Names are never written in lower case:
    "Elizabeth and Jane Bennet met Mr. Bingley at Netherfield" is a sentence."""
    bare = (w.strip(".,;:!?'\"“”‘’()—-") for w in words[1:])
    return sum(w[:1].isupper() and w.lower() in lower for w in bare) >= 3


def telling_line(text: str, shortest: int = 4) -> str | None:
    """The line of a text that is least like its other lines (the highest mean rarity of its words among the
    lines, each word counted once a line): in a log, the one error among a thousand routine lines; what a note
    falls back to when the text has no sentence that names anyone."""
    lines = [" ".join(line.split()) for line in text.splitlines() if len(line.split()) >= shortest]
    if len(lines) < 2:
        return lines[0] if lines else None
    words = [set(re.findall(r"[a-z]{2,}", line.lower())) for line in lines]
    holding = Counter(w for ws in words for w in ws)
    rarity = [sum(math.log(len(lines) / holding[w]) for w in ws) / max(1, len(ws)) for ws in words]
    return lines[max(range(len(lines)), key=rarity.__getitem__)]


def lined(text: str, least: int = 20, longest: int = 25) -> bool:
    """Whether a text is made of lines rather than paragraphs (a log, a table): `least` lines or more, the
    middle one under `longest` words."""
    lengths = sorted(len(line.split()) for line in text.splitlines() if line.strip())
    return len(lengths) >= least and lengths[len(lengths) // 2] < longest


def finished(text: str) -> bool:
    """Whether text ends a sentence (a draft cut off by the token limit does not): a reader sees a summary
    stop mid-sentence, so an unfinished candidate is kept only when every candidate is unfinished."""
    return re.search(r"[.!?。！？][\"”’)」』）]*$", text.strip()) is not None
