"""The small text tools of the answer path, each once: folding (case and accent marks), words, stems, stop
words, and how a name a reader types is matched against what the document writes."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from famcli.text import stemmer
from famcli.text import stop_words as famcli_stop_words

NUMBER = re.compile(r"(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)*(?!\w)")  # 4,250 and 4250 are one number; 3.5 another
WORD = re.compile(NUMBER.pattern + r"|\w+(?:['’]\w+)*")


def fold(text: str) -> str:
    """Lower case without accent marks ("Zoë" -> "zoe"); the same length rule as the text is not kept."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Folded words, possessive 's dropped ("Frankenstein's" -> "frankenstein"); a number is one word, written
    without its thousands commas ("123,456" -> "123456")."""
    return [w.replace(",", "") if w[:1].isdigit() else re.sub(r"['’]s$", "", w) for w in WORD.findall(fold(text))]


def numbers(text: str) -> set[str]:
    """The numbers a text writes in digits, without thousands commas: an answer may bring no number that its
    evidence does not write ("123,456" is "123456", and neither is "123" and "456")."""
    return {m.group().replace(",", "") for m in NUMBER.finditer(text)}


@cache
def stop_words() -> frozenset[str]:
    """Words that say nothing of their own in a question or an answer: bm25s's English list (33 words) and the
    function words famcli.documents.names never takes for a name (pronouns, auxiliaries, question words:
    "she", "had", "did", "why"), lowered. Without the second list an answer's "she" had to be in the sentence
    that says it."""
    from famcli.documents.names import FUNCTION

    return famcli_stop_words() | {w.lower() for w in FUNCTION} | {"because", "s", "t"}


def stems(text: str) -> set[str]:
    """The stems of a text's content words (stop words out)."""
    stop = stop_words()
    return set(stemmer().stemWords([w for w in words(text) if w not in stop]))


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
