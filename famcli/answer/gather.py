"""Names gathered across the document (docs/answers.md, "Gathering").

A reader asks about what a book tells, and a book tells what matters more than once: whom Charlotte Lucas marries
is written beside "Charlotte" and "married" in many places, each of which a 135M model may misread alone. So for
a question that asks for a name, every name the document writes is a candidate, and its evidence is gathered
from the `pool` passages BM25 ranks best for the question: the sum of the BM25 scores of the passages that write
it, times its inverse passage frequency log(N / df) (the heroine, named in every other passage, says little
about any one question), each passage's share weighed by how near the name is written to the question's words
there: 1 / (1 + d / NEAR) at a distance of d words (Gockven's cousin, a tailor called Nockpas, made the coat:
the tailor is the nearer to "made" and "coat"). This is the strength-based re-ranking of Wang et al. 2018
("Evidence Aggregation for Answer Re-Ranking in Open-Domain Question Answering") and the redundancy of AskMSR
(Brill et al. 2002), with BM25 weights and an idf in place of a trained reader. A name the question itself
writes is never its answer, and the words that only ask for a name ("the name of", "called") are not looked for.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from famcli.answer.find import Passage, Passages
from famcli.answer.read import ASKING, _as_written, question_subject
from famcli.answer.text import bm25, stems
from famcli.text import stemmer
from famcli.text.sentences import split_sentences
from famcli.text.words import words

SHARE_OF = 5  # a candidate's share is of the best five's summed scores
NEAR = 10  # words: a name this far from the nearest of the question's words counts half in its passage


@dataclass
class Gathered:
    """A name and its gathered evidence: its score, its share of the best five's scores, the sentence of the
    pool that writes it and best matches the question, and the passage that sentence is in."""

    name: str
    score: float
    share: float
    sentence: str
    passage: Passage


def gather(passages: Passages, question: str, pool: int = 100, idf: bool = True, near: int = NEAR,
           asking: bool = True) -> list[Gathered]:
    """The document's names, the best five by the evidence gathered for the question (the module docstring);
    none when no passage shares a word with the question or none of the best writes a name. `idf`, `near` (0:
    off) and `asking` (the asking words out of the query) can be turned off for an ablation."""
    written, df = passages.written_names
    # the words that ask for a name ("What is the name of ...") are no words its passages need write
    scores = passages.scores(" ".join(w for w in question.split() if not (asking and stems(w) & ASKING)))
    best = [int(i) for i in np.argsort(-scores, kind="stable")[:pool] if scores[i] > 0]
    asked = stems(question) - ASKING
    total: Counter = Counter()
    where: dict[tuple[str, ...], list[int]] = {}
    for i in best:
        tokens = words(passages.items[i].text)
        at = [t for t, stem in enumerate(stemmer().stemWords(tokens)) if stem in asked]
        for key in written[i]:
            if stems(" ".join(key)) & asked:  # "Who is the first mate of the Pequod?" is not answered "Pequod"
                continue
            nearness = 1 / (1 + _distance(tokens, key, at) / near) if near else 1.0
            rarity = math.log(passages.n / df[key]) if idf else 1.0
            total[key] += float(scores[i]) * rarity * nearness
            where.setdefault(key, []).append(i)
    ranked = [(key, s) for key, s in total.most_common() if s > 0]
    if not ranked:
        return []
    top = sum(s for _, s in ranked[:SHARE_OF])
    out = []
    for key, score in ranked[:SHARE_OF]:
        sentence, passage = _best_sentence(passages, where[key], key, question)
        run = written[where[key][0]][key]
        out.append(Gathered(_as_written(run, passages.text), score, score / top, sentence, passage))
    return out


def _distance(tokens: list[str], key: tuple[str, ...], at: list[int]) -> int:
    """Words from the name's nearest use to the nearest of the question's words (the passage's length when
    either is missing)."""
    uses = [t for t, w in enumerate(tokens) if w in key]
    return min((abs(u - a) for u in uses for a in at), default=len(tokens))


def _best_sentence(passages: Passages, holding: list[int], key: tuple[str, ...],
                   question: str) -> tuple[str, Passage]:
    """What shows the name's evidence: among the given passages' sentences that write the name (with the sentence
    before and after it that share a word with the question: the name is often a sentence away from them), the
    one that best matches the question (BM25), first among those that also name whom the question is about."""
    asked = stems(question)
    found: list[tuple[str, Passage]] = []
    for i in holding:
        sentences = [" ".join(s.split()) for _, s in split_sentences(passages.items[i].text)]
        for j, sentence in enumerate(sentences):
            if all(w in words(sentence) for w in key):
                near = [sentences[k] for k in (j - 1, j + 1)
                        if 0 <= k < len(sentences) and stems(sentences[k]) & asked]
                found.append((" ".join(sorted([sentence, *near], key=sentences.index)), passages.items[i]))
    if not found:
        return "", passages.items[holding[0]]
    scores = bm25([s for s, _ in found], question)
    subject = question_subject(question)  # one that also names whom the question is about comes first
    return max(zip(found, scores), key=lambda f: (bool(subject & stems(f[0][0])), float(f[1])))[0]
