"""The small text tools of the answer path: its stop words, stems, how a name a reader types is matched against
what the document writes, and BM25 over folded text (folding and words themselves: famcli.text.words)."""

from __future__ import annotations

from functools import cache

from famcli.text import stemmer
from famcli.text import stop_words as famcli_stop_words
from famcli.text.names import FUNCTION, NAMING
from famcli.text.words import fold, words


@cache
def stop_words() -> frozenset[str]:
    """Words that say nothing of their own in a question or an answer: bm25s's English list (33 words) and the
    function words famcli.text.names never takes for a name (pronouns, auxiliaries, question words:
    "she", "had", "did", "why"), lowered. Without the second list an answer's "she" had to be in the sentence
    that says it."""
    return famcli_stop_words() | {w.lower() for w in FUNCTION} | {"because", "s", "t"}


def stems(text: str, naming: bool = False) -> set[str]:
    """The stems of a text's content words (stop words out). `naming`: also the words that name without being
    names ("five", "Sunday", "letter": famcli.text.names.NAMING), which an answer says."""
    stop = _stop_words_but_naming() if naming else stop_words()
    return set(stemmer().stemWords([w for w in words(text) if w not in stop]))


@cache
def _stop_words_but_naming() -> frozenset[str]:
    return stop_words() - {w.lower() for w in NAMING}


CONNECTORS = frozenset("of de van von la le du del da".split())  # inside a name: Catherine de Bourgh
TITLES = frozenset("mr mrs ms miss dr sir lady lord captain capt mister madame monsieur mademoiselle professor "
                   "colonel col uncle aunt saint st king queen prince princess duke duchess father mother".split())


def name_words(name: str) -> list[str]:
    """The words of a name that pick its bearer out: folded, titles and stop words out ("Mr. Darcy's" ->
    ["darcy"])."""
    stop = stop_words() | CONNECTORS
    return [w for w in words(name) if w not in TITLES and w not in stop]


def bm25(texts: list[str], query: str):
    """BM25 (bm25s, Lucene) of each text for the query's stemmed content words, over folded text."""
    import bm25s
    import numpy as np

    corpus = bm25s.tokenize([fold(t) for t in texts], stopwords="en", stemmer=stemmer(), show_progress=False)
    terms = [t for t in bm25s.tokenize([fold(query)], stopwords="en", stemmer=stemmer(), show_progress=False,
                                       return_ids=False)[0] if t in corpus.vocab]
    if not terms or not corpus.vocab:
        return np.zeros(len(texts), dtype=np.float32)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    return np.asarray(retriever.get_scores(terms), dtype=np.float32)
