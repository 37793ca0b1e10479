"""The text side of recall: the passages an answer is read from and BM25 over texts (bm25s: Lucene BM25, English
stop words, Snowball stems). Imports no index and no model, so the answering sentences (famcli.jobs.answer) use
it without the search above it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from famcli.text import stemmer

if TYPE_CHECKING:  # annotations only
    from famcli.recall.index import RecallIndex


@dataclass
class Passage:
    """A stretch of the document [start, end) in token offsets, re-read for the answer."""

    start: int
    end: int
    score: float
    text: str = ""
    place: tuple[str, int | str] | None = None  # ("page", 3) in a PDF, ("chapter", "...") in an EPUB

    def to_dict(self) -> dict:
        snippet = " ".join(self.text.split())
        out = {"start_token": self.start, "end_token": self.end, "score": round(self.score, 4),
               "snippet": snippet[:160] + ("..." if len(snippet) > 160 else "")}
        return out | ({self.place[0]: self.place[1]} if self.place is not None else {})


def source_line(d: dict) -> str:
    """One line naming a passage (Passage.to_dict()): where it is and how it begins."""
    where = "".join(f"{k} {d[k]}, " for k in ("page", "chapter", "section") if k in d)
    return f"- {where}tokens {d['start_token']:,}-{d['end_token']:,}: {d['snippet']}"


class Bm25:
    """A BM25 index (Lucene variant, k1 1.5, b 0.75) over texts, built once: English stop words dropped,
    Snowball stems. A conversation scores each question against the same index."""

    def __init__(self, texts: Sequence[str]):
        import bm25s

        self.n = len(texts)
        self.stemmer = stemmer()
        corpus = bm25s.tokenize(list(texts), stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.vocab = corpus.vocab
        self.retriever = bm25s.BM25()
        self.retriever.index(corpus, show_progress=False)

    def terms(self, text: str) -> list[str]:
        """A text's stemmed content words, as the index holds them."""
        import bm25s

        return bm25s.tokenize([text], stopwords="en", stemmer=self.stemmer, show_progress=False,
                              return_ids=False)[0]

    def holding(self, term: str) -> int:
        """How many texts hold a (stemmed) term."""
        return int((self.retriever.get_scores([term]) > 0).sum()) if term in self.vocab else 0

    def scores(self, question: str) -> np.ndarray:
        known = [w for w in self.terms(question) if w in self.vocab]
        if not known or not self.n:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(known), dtype=np.float32)


def bm25_scores(texts: Sequence[str], question: str) -> np.ndarray:
    """BM25 of each text for the question's stemmed content words."""
    return Bm25(texts).scores(question)


def chunk_texts(index: RecallIndex, decode: Callable[[list[int]], str]) -> list[str]:
    return [decode(index.ids[a:b].tolist()) for a, b in (index.chunk_span(i) for i in range(index.n_chunks))]
