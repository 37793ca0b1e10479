"""A section's own words, where its note cannot be the model's (famcli.summary.notes.choose_note): the told sentence
that carries most of what is particular to it (`central_sentence`: whole, narrated, no heading, verse or list), or
in a text of lines (a log) the line least like the others (`telling_line`). docs/summaries.md says what each rule
fixed and what it was measured to buy.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from famcli.documents.boilerplate import headings, unwrapped
from famcli.text import stem_bag
from famcli.text.sentences import split_sentences

CHUNK_WORDS = 1500  # words: the parts of the document a word's rarity is counted over (Rarity)


class Rarity:
    """How particular a word is to one part of a document: log((N + 1) / (n + 1)) for a document of N parts of
    CHUNK_WORDS words, n of which use it (the inverse document frequency, with the document's own parts as the
    collection). Fed the whole document before its notes are chosen where it can be read twice (a file), or
    each section as it comes (a stream or a PDF: the parts so far)."""

    def __init__(self) -> None:
        self.parts = 0
        self.holding: Counter = Counter()
        self._open: list[str] = []

    def add(self, text: str) -> "Rarity":
        """Count a text's words in parts of CHUNK_WORDS words; the last part stays open for the next text."""
        words = self._open + text.split()
        whole = len(words) - len(words) % CHUNK_WORDS
        for at in range(0, whole, CHUNK_WORDS):  # one pass: a text of one line of megabytes is one piece
            self._count(words[at:at + CHUNK_WORDS])
        self._open = words[whole:]
        return self

    def close(self) -> "Rarity":
        """Count the open part (the end of what was added)."""
        if self._open:
            self._count(self._open)
            self._open = []
        return self

    def _count(self, words: list[str]) -> None:
        self.parts += 1
        self.holding.update(set(stem_bag(" ".join(words))))

    def idf(self, stem: str) -> float:
        return math.log((self.parts + 1) / (self.holding[stem] + 1))


def central_sentence(text: str, rarity: Rarity | None = None, shortest: int = 8, longest: int = 60) -> str | None:
    """The sentence of a section that carries most of what is particular to it: the sum, over its distinct
    content words that the section uses more than once, of each word's count in the section times its rarity in
    the document (`Rarity`; 1 without one). This is the centroid score of MEAD (Radev et al. 2004,
    "Centroid-based summarization of multiple documents"): the sentence richest in the words this part of the
    book is about and the rest is not, its people and places among them; a word the section uses once is no
    part of what it is about (a list of ports or of emperors' titles would win on them). On 30 passages of the
    five corpus books whose three best sentences readers chose (docs/summaries.md, "Which sentence tells a
    part"), its pick is one of the three 11 times, against 3 for the sentence using most of the section's
    particular names (the rule before) and 2 for a random one.

    Only a whole, told sentence (hard-wrapped lines joined): of a readable length, ending in a stop, not a
    heading, a title in capitals or a verse. Speech (quote marks in it, or inside a quotation the paragraph
    opened before) quarters its value, a fragment (begun mid-way, in lower case: own_sentence takes it back to
    its start) halves it. A text of lines (a log) has none (`telling_line` chooses its line)."""
    best, best_score = None, 0.0
    text = unwrapped(text)  # a hard-wrapped paragraph's long sentence is whole, not cut at its line breaks
    told = told_sentences(text, shortest, longest)
    values = centroid_values([sentence for sentence, _ in told], text, rarity)
    for (sentence, share), value in zip(told, values):
        if share * value > best_score:
            best, best_score = sentence, share * value
    return best


def told_sentences(text: str, shortest: int = 8, longest: int = 60) -> list[tuple[str, float]]:
    """The told sentences of a text (its hard-wrapped lines joined: `unwrapped`), each with what speech and a
    fragment leave of its value: whole, of a readable length, ending in a stop, not a heading, a title in
    capitals, a verse or a catalogue (`_listed`); none in a text of lines (a log)."""
    found = split_sentences(text)
    if of_lines([sentence for _, sentence in found]):
        return []
    widths = sorted(len(line.strip()) for line in text.splitlines() if line.strip())
    wide = widths[int(0.9 * (len(widths) - 1))] if widths else 0
    lower = set(re.findall(r"\b[a-z][a-z-]+\b", text))
    heads = " ".join(headings(text))  # "CHAPTER 57. Of Whales in Paint; in Teeth; ...": a title, not a sentence
    told = []
    for (at, sentence), (after, _) in zip(found, found[1:] + [(len(text), "")]):
        words = sentence.split()
        if not shortest <= len(words) <= longest or not finished(sentence) or sentence in heads or \
                _title_case(words, lower) or _verse(text[at:after], wide) or _listed(sentence):
            continue
        share = 0.25 ** bool(_SPOKEN.search(sentence) or _quoted(text, at)) * 0.5 ** (not sentence[:1].isupper())
        told.append((sentence, share))
    return told


def last_told(text: str) -> str | None:
    """The last narrated sentence of a text: told (`told_sentences`), whole, not speech. None for a text of
    lines (a log) or one without such a sentence."""
    return next((s for s, share in reversed(told_sentences(unwrapped(text))) if share == 1), None)


def of_lines(pieces: list[str]) -> bool:
    """Whether a text's sentences (`split_sentences` of its hard-wrapped lines joined), or a summary's notes, are
    lines: most of them end in no stop (a log, a table), where prose's end a sentence."""
    pieces = [piece for piece in pieces if not _MARKDOWN_HEADING.match(piece)]  # "## Risks" ends in no stop
    return sum(finished(piece) for piece in pieces) < 0.5 * len(pieces)


def text_of_lines(text: str) -> bool:
    """Whether a text is made of lines (a log, a table) rather than of sentences, its hard-wrapped paragraphs
    joined: hard-wrapped prose has short lines too, but its sentences end in stops."""
    return of_lines([sentence for _, sentence in split_sentences(unwrapped(text))])


def centroid_values(sentences: list[str], text: str, rarity: Rarity | None = None) -> list[float]:
    """Each sentence's centroid score against a text (central_sentence): the sum over its distinct content words
    of their count in the text times their rarity in the document, counting only the words the text repeats
    (every word, when it repeats none that the sentences use: a short text). Where the rarity tells no word from
    another (a document of one part: every word is in all its parts), every word weighs 1."""
    used = Counter(stem_bag(text))
    repeated = Counter({w: c for w, c in used.items() if c > 1})
    bags = [set(stem_bag(sentence)) for sentence in sentences]
    weighings = ([rarity.idf] if rarity is not None else []) + [lambda w: 1.0]
    values = [0.0] * len(bags)
    for weigh in weighings:  # a document of one part (under CHUNK_WORDS words: a letter, an article, the first
        for counts in (repeated, used):  # digest of a stream) makes every word as rare as any: weigh them alike
            values = [sum(counts[w] * weigh(w) for w in bag) for bag in bags]
            if any(values):
                return values
    return values


_MARKDOWN_HEADING = re.compile(r"#{1,6}\s")
_SPOKEN = re.compile(r"[\"“”‘]|(?<![\w.,!?])'|'(?!\w)")


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


def _listed(sentence: str) -> bool:
    """A catalogue rather than a sentence: five or more items between semicolons, most of three words or fewer
    ("Run over a few:—The Authors of the Bible; Aristotle; Pliny; Aldrovandi; ..."): it names and tells nothing."""
    items = sentence.split(";")
    return len(items) >= 5 and sorted(len(item.split()) for item in items)[len(items) // 2] <= 3


def telling_line(text: str, shortest: int = 4) -> str | None:
    """The line of a text that is least like its other lines (the highest mean rarity of its words among the
    lines, each word counted once a line): in a log, the one error among a thousand routine lines; what a note
    falls back to when the text has no sentence that names anyone."""
    lines = [" ".join(line.split()) for line in text.splitlines() if len(line.split()) >= shortest]
    if len(lines) < 2:
        return lines[0] if lines else None
    rarity = unusual(lines)
    return lines[max(range(len(lines)), key=rarity.__getitem__)]


def unusual(lines: list[str]) -> list[float]:
    """How unlike the others each line is: the mean, over its distinct words, of log(lines / lines holding it)."""
    words = [set(re.findall(r"[a-z]{2,}", line.lower())) for line in lines]
    holding = Counter(w for ws in words for w in ws)
    return [sum(math.log(len(lines) / holding[w]) for w in ws) / max(1, len(ws)) for ws in words]


def lined(text: str, least: int = 20, longest: int = 25) -> bool:
    """Whether a text is made of lines rather than paragraphs (a log, a table): `least` lines or more, the
    middle one under `longest` words."""
    lengths = sorted(len(line.split()) for line in text.splitlines() if line.strip())
    return len(lengths) >= least and lengths[len(lengths) // 2] < longest


def finished(text: str) -> bool:
    """Whether text ends a sentence (a draft cut off by the token limit does not): a reader sees a summary
    stop mid-sentence, so an unfinished candidate is kept only when every candidate is unfinished."""
    return re.search(r"[.!?。！？][\"'”’)」』）]*$", text.strip()) is not None  # an ASCII quote closes one too
