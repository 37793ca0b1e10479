"""The sentences that carry a section: what the model reads to write the section's note (docs/summaries.md).

A summary cannot afford to push a whole book through the model: the note of each section is written from a
few hundred words of it, the sentences that say most of what the section says. They are chosen by LexRank
(Erkan and Radev, 2004): each sentence is a tf-idf vector of its stemmed words (PyStemmer, bm25s's English
stop words: the tokenising the recall index already uses), two sentences are linked when their cosine passes a
threshold, and a sentence's centrality is its PageRank over those links, the sentences many others echo. The
centrality is raised by the section's particular names a sentence uses (the weights of famcli.summary.notes), so the
sentence where the new people act outranks a central line of description. The chosen sentences are read in
the section's order.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from famcli.text import stem_bag
from famcli.text.names import uses_name
from famcli.text.sentences import split_sentences

SHORTEST, LONGEST = 5, 60  # words: a sentence outside this is a fragment, a heading or a run-on list
LINK = 0.1  # cosine above which two sentences are linked
DAMPING = 0.85


def centrality(sentences: list[str]) -> np.ndarray:
    """LexRank of each sentence, scaled so that the mean is 1."""
    bags = [Counter(stem_bag(s)) for s in sentences]
    n = len(sentences)
    df = Counter(w for bag in bags for w in bag)
    column = {w: i for i, w in enumerate(df)}
    vectors = np.zeros((n, max(1, len(column))), dtype=np.float64)
    for i, bag in enumerate(bags):
        for w, c in bag.items():
            vectors[i, column[w]] = c * math.log(1 + n / df[w])
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    links = (vectors @ vectors.T > LINK).astype(np.float64)
    np.fill_diagonal(links, 0.0)
    degree = links.sum(axis=1, keepdims=True)
    walk = np.where(degree > 0, links / np.maximum(degree, 1.0), 1.0 / n)  # a sentence linked to none jumps anywhere
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        new = (1 - DAMPING) / n + DAMPING * (walk.T @ rank)
        if np.abs(new - rank).sum() < 1e-9:
            rank = new
            break
        rank = new
    return rank * n


def carrying_sentences(text: str, weights: dict[str, float], words: int) -> str:
    """About `words` words of text: its most central sentences (see the module's docstring), raised by the
    weights of the names each uses, in the text's order. A text within the budget is returned whole."""
    if len(text.split()) <= words:
        return " ".join(text.split())
    sentences = [s for _, s in split_sentences(text)]
    usable = [i for i, s in enumerate(sentences) if SHORTEST <= len(s.split()) <= LONGEST]
    if not usable:
        return " ".join(" ".join(text.split()).split()[:words])
    rank = centrality([sentences[i] for i in usable])
    value = {i: rank[k] * (1 + sum(w for name, w in weights.items() if uses_name(sentences[i], name)))
             for k, i in enumerate(usable)}
    chosen, used = [], 0
    for i in sorted(value, key=lambda i: -value[i]):
        n = len(sentences[i].split())
        if used + n <= words:
            chosen.append(i)
            used += n
    return " ".join(sentences[i] for i in sorted(chosen))
