"""Finding the passages a question's answer may be in (docs/answers.md, "Finding").

A passage is a run of whole paragraphs of about `words` words (a paragraph longer than that is cut at its
sentence ends): what a reader would point at to show an answer, and what the model reads. BM25 (bm25s, Lucene
variant) ranks them over text folded for case and accent marks, with Snowball stems; the model then re-ranks the
best few by how likely the question is given each passage (UPR, Sachan et al. 2022: famcli.answer.score).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from famcli.answer.text import name_words
from famcli.documents.boilerplate import clean_text, heading, unwrapped
from famcli.text import stemmer
from famcli.text.names import names
from famcli.text.sentences import split_sentences
from famcli.text.words import fold, words

PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")


@dataclass
class Passage:
    """Characters [start, end) of the document text, and the tokens [first, last) they were read from."""

    start: int
    end: int
    text: str
    first: int = 0
    last: int = 0


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Character spans of the text's paragraphs (blank lines between them), blank ones left out."""
    spans, at = [], 0
    for m in [*PARAGRAPH.finditer(text), None]:
        end = m.start() if m else len(text)
        if text[at:end].strip():
            spans.append((at, end))
        at = m.end() if m else at
    return spans


def words_in(text: str) -> int:
    """How many words a text counts as: its words between spaces, and at least one per 8 of its other characters
    (a script written without spaces, as Chinese and Japanese are, would be one paragraph-long word)."""
    split = text.split()
    return max(len(split), sum(map(len, split)) // 8)


def _pieces(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """A paragraph as spans of about `size` words, cut at sentence ends (one long sentence stays whole)."""
    body = text[start:end]
    if words_in(body) <= 1.5 * size:
        return [(start, end)]
    count, spans, at = 0, [], 0
    for offset, sentence in split_sentences(body):
        if count >= size and offset > at:
            spans.append((start + at, start + offset))
            at, count = offset, 0
        count += words_in(sentence)
    spans.append((start + at, end))
    return spans


def cut_passages(text: str, size: int) -> list[tuple[int, int]]:
    """The text as passages of whole paragraphs, about `size` words each: short paragraphs (a line of
    dialogue) join the ones after them, long ones are cut at sentence ends, a heading (CHAPTER IV, Letter 2)
    begins a passage."""
    spans, open_at, count, last = [], None, 0, 0  # last: where the passage open so far ends
    for a, b in paragraphs(text):
        if open_at is not None and heading(text[a:b]):  # a chapter begins a passage of its own
            spans.append((open_at, last))
            open_at, count = None, 0
        for p, q in _pieces(text, a, b, size):
            n = words_in(text[p:q])
            if open_at is not None and count + n > 1.5 * size:
                spans.append((open_at, last))
                open_at, count = None, 0
            open_at = p if open_at is None else open_at
            last, count = q, count + n
            if count >= size:
                spans.append((open_at, last))
                open_at, count = None, 0
    if open_at is not None:
        spans.append((open_at, last))
    return spans


def the_work(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The passages that are the work, not its boilerplate (famcli.documents.boilerplate: a Gutenberg header and
    licence, a table of contents): those at least half of whose characters are on lines the boilerplate step
    keeps (it drops whole lines, in order). The index holds every token: a saved reading and the places of pages
    and chapters stay as read."""
    kept_lines = iter(clean_text([text]))
    want = next(kept_lines, None)
    lines = text.splitlines(keepends=True)
    starts, kept, at = [], [], 0
    for line in lines:
        starts.append(at)
        keep = want is not None and line.rstrip("\n") == want.rstrip("\n")
        kept.append(keep)
        if keep:
            want = next(kept_lines, None)
        at += len(line)
    cumulative = np.concatenate([[0], np.cumsum([len(line) if k else 0 for line, k in zip(lines, kept)])])

    def kept_chars(c: int) -> float:  # characters before offset c that are on kept lines
        i = bisect.bisect_right(starts, c) - 1
        return cumulative[i] + (c - starts[i] if i >= 0 and kept[i] else 0) if i >= 0 else 0

    return [(a, b) for a, b in spans if 2 * (kept_chars(b) - kept_chars(a)) >= b - a]


class Passages:
    """A document's passages and their BM25 index, built once per reading (a conversation's questions only
    score them)."""

    def __init__(self, text: str, size: int, token_at: Callable[[int], int] | None = None):
        import bm25s

        self.text = text
        self.size = size
        self.front = ""  # the file's metadata ("Title: ...\nAuthor: ...": famcli.answer.front), when it has any
        self._resized: dict[int, Passages] = {}
        spans = the_work(text, cut_passages(text, size))
        token_at = token_at or (lambda c: c)
        self.token_at = token_at
        self.items = [Passage(a, b, unwrapped(text[a:b]), token_at(a), token_at(b)) for a, b in spans]
        self.n = len(self.items)
        corpus = bm25s.tokenize([fold(p.text) for p in self.items], stopwords="en", stemmer=stemmer(),
                                show_progress=False) if self.items else None
        self.vocab = corpus.vocab if corpus is not None and corpus.vocab else {}
        self.words = set(words(text))  # folded: a name is looked up as a reader types it
        self.retriever = None
        if self.vocab:  # bm25s cannot index an empty vocabulary (only stop words, only punctuation)
            self.retriever = bm25s.BM25()
            self.retriever.index(corpus, show_progress=False)

    @cached_property
    def names(self) -> set[str]:
        """The capitalised runs the document writes as names (only the spans rule reads them)."""
        return set(names(self.text))

    @cached_property
    def written_names(self) -> tuple[list[dict[tuple[str, ...], str]], Counter]:
        """The names each passage writes (the runs of `names`), keyed by their folded words without titles
        ("Mr. Collins" and "Collins" are one key), and in how many passages each key is written."""
        from famcli.text.names import _runs

        known, written = self.names, []
        for p in self.items:
            found: dict[tuple[str, ...], str] = {}
            for run, _ in _runs(p.text):
                key = tuple(name_words(run)) if run in known else ()
                if key:
                    found.setdefault(key, run)
            written.append(found)
        return written, Counter(key for found in written for key in found)

    @cached_property
    def lowercase(self) -> frozenset[str]:
        """The words the document writes in lower case somewhere ("most", never "mary"): a capitalised word it
        also writes so is a sentence's first word, not a name."""
        return frozenset(re.findall(r"\b[a-z][a-z'’]*\b", self.text))

    def resized(self, size: int) -> "Passages":
        """The same text cut into passages of another size, indexed once per size."""
        if size == self.size:
            return self
        if size not in self._resized:
            self._resized[size] = Passages(self.text, size, self.token_at)
        return self._resized[size]

    def token_of(self, passage: Passage, part: str) -> int:
        """The token where a part of a passage's text begins (its place in the passage's text, which may be
        unwrapped, taken in proportion to the passage's span of the document)."""
        at = max(passage.text.find(part), 0)
        return self.token_at(passage.start + at * (passage.end - passage.start) // max(len(passage.text), 1))

    def terms(self, text: str) -> list[str]:
        import bm25s

        return bm25s.tokenize([fold(text)], stopwords="en", stemmer=stemmer(), show_progress=False,
                              return_ids=False)[0]

    def scores(self, question: str) -> np.ndarray:
        known = [t for t in self.terms(question) if t in self.vocab]
        if not known or self.retriever is None:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(known), dtype=np.float32)

    def best(self, question: str, k: int) -> list[int]:
        """The `k` best passages by BM25, best first; only those that share a word with the question."""
        scores = self.scores(question)
        order = np.argsort(-scores, kind="stable")[:k]
        return [int(i) for i in order if scores[i] > 0]

    @classmethod
    def from_pieces(cls, pieces: Sequence[tuple[str, int]], size: int) -> "Passages":
        """From decoded pieces of the token stream, each with its first token: a passage knows its tokens."""
        text = "".join(t for t, _ in pieces)
        starts, offsets, at = [], [], 0
        for t, first in pieces:
            starts.append(at)
            offsets.append(first)
            at += len(t)

        def token_at(c: int) -> int:  # in proportion within the piece holding character c
            i = max(bisect.bisect_right(starts, c) - 1, 0)
            if i >= len(offsets):
                return 0
            chars = max(len(pieces[i][0]), 1)
            tokens = (offsets[i + 1] if i + 1 < len(offsets) else offsets[i] + chars // 4) - offsets[i]
            return offsets[i] + min(c - starts[i], chars) * tokens // chars

        return cls(text, size, token_at)
