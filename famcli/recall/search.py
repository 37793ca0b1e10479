"""Answering from the recall index: score the chunks against a question, choose the passages, and lay out
the prompt the model re-reads with full attention (question, passages in document order, the most recent
window, the question again). The measurements behind the defaults are in docs/recall.md.

Scorers: `bm25` (bm25s, English stop words and Snowball stemming over each chunk's text), `attention`
(the model's own queries against each chunk's representative keys, famcli.recall.index), and `fusion`
(reciprocal rank fusion of the two: a chunk's score is the sum of 1 / (60 + its rank) under each scorer
that found anything in it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from famcli.answer.rules import Rules
from famcli.common.choices import ANSWER_PATHS, SCORERS, AnswerFrom, Scorer
from famcli.common.errors import UserError
from famcli.recall.index import RecallIndex, attention_scores, head_scores
from famcli.recall.text import Passage, bm25_scores, chunk_texts

RRF_K = 60
SEPARATOR = "\n[...]\n"


@dataclass(frozen=True)
class RecallOptions:
    """blocks   K, recall chunks re-read before answering
    context  tokens kept on each side of a chosen chunk
    scorer   bm25 | attention | fusion
    recent   tokens of the document's end always re-read (None: the memory's own window)
    whole    (the memory path's prompt, famcli.jobs.lookup.Lookup.recall_prompt) documents up to this many tokens
             are re-read whole when they fit the window
    answer_from  auto | passages | memory: whether the document is read through the model before answering
             (famcli.jobs.session.Session.answer_path)
    rules    the passages path's rules and constants (famcli.answer.rules.Rules, --answer-rules)"""

    blocks: int = 4
    context: int = 32
    scorer: Scorer = "bm25"
    recent: int | None = None
    whole: int = 4096
    answer_from: AnswerFrom = "auto"
    rules: Rules = Rules()

    def __post_init__(self):
        if isinstance(self.rules, dict):  # from a batch job's JSON (dataclasses.asdict)
            object.__setattr__(self, "rules", Rules(**self.rules))
        if self.answer_from not in ANSWER_PATHS:
            raise UserError(f"unknown --answer-from {self.answer_from!r} (choose {', '.join(ANSWER_PATHS)})")
        if self.scorer not in SCORERS:
            raise UserError(f"unknown recall scorer {self.scorer!r} (choose {', '.join(SCORERS)})")
        if self.blocks < 1 or self.context < 0 or (self.recent is not None and self.recent < 0):
            raise UserError("--recall-blocks must be at least 1; context and recent tokens not negative")


def rank_fusion(*score_lists: np.ndarray) -> np.ndarray:
    """Reciprocal rank fusion; a scorer adds nothing for chunks it gave no positive evidence."""
    total = np.zeros(len(score_lists[0]), dtype=np.float64)
    for scores in score_lists:
        order = np.argsort(-scores, kind="stable")
        ranks = np.empty(len(scores), dtype=np.int64)
        ranks[order] = np.arange(len(scores))
        total += np.where(scores > 0, 1.0 / (RRF_K + 1 + ranks), 0.0)
    return total


def score_chunks(index: RecallIndex, question: str, scorer: str, decode: Callable[[list[int]], str],
                 query: dict[int, torch.Tensor] | None = None) -> np.ndarray:
    """One relevance score per chunk; `query` (the question's queries) is needed by attention and fusion
    unless the index was built knowing them."""
    if scorer == "bm25":
        return bm25_scores(chunk_texts(index, decode), question)
    if index.query is not None:
        heads = torch.stack(index.head_scores) if index.head_scores else torch.zeros(0, 1)
    else:
        if query is None:
            raise ValueError("the attention scorer needs the question's queries")
        heads = head_scores(query, index.layers, torch.stack(index.reps)) if index.reps else torch.zeros(0, 1)
    attention = attention_scores(heads).numpy()
    if scorer == "attention":
        return attention
    return rank_fusion(bm25_scores(chunk_texts(index, decode), question), attention - attention.min() + 1e-6)


def choose(index: RecallIndex, scores: np.ndarray, options: RecallOptions, room: int,
           before: int) -> list[Passage]:
    """The best chunks that end before token `before` (the recent window re-read anyway), each widened by
    `context` tokens and merged with its neighbours, in document order, within `room` tokens."""
    passages: list[Passage] = []
    used = 0
    for i in np.argsort(-scores, kind="stable"):
        if len(passages) >= options.blocks or (scores[i] <= 0 and options.scorer != "attention"):
            break  # bm25 and fusion give 0 to chunks without evidence: re-reading them only distracts
        a, b = index.chunk_span(int(i))
        a, b = max(0, a - options.context), min(before, b + options.context)
        if a >= b:
            continue
        cost = b - a + 4
        if used + cost > room:
            break
        passages.append(Passage(a, b, float(scores[i])))
        used += cost
    return merge(sorted(passages, key=lambda p: p.start))


def merge(passages: list[Passage]) -> list[Passage]:
    """Overlapping or touching passages become one (the best score kept)."""
    out: list[Passage] = []
    for p in passages:
        if out and p.start <= out[-1].end:
            out[-1].end = max(out[-1].end, p.end)
            out[-1].score = max(out[-1].score, p.score)
        else:
            out.append(Passage(p.start, p.end, p.score))
    return out


def layout(index: RecallIndex, scores: np.ndarray | None, options: RecallOptions, prefix: list[int],
           suffix: list[int], separator: list[int], budget: int, window: int) -> tuple[list[int], list[Passage]]:
    """The ids the model reads to answer: prefix, passages (with separators), the recent window, suffix.

    A document that fits the budget, up to `options.whole` tokens, is read whole (famcli is then the plain
    model)."""
    ids = index.ids
    room = budget - len(prefix) - len(suffix)
    if index.n_tokens <= min(room, options.whole):
        return prefix + ids.tolist() + suffix, [Passage(0, index.n_tokens, 1.0)]
    recent = min(options.recent if options.recent is not None else window, max(0, room // 2))
    start_recent = index.n_tokens - recent
    passages = choose(index, scores, options, room - recent, start_recent) if scores is not None else []
    body: list[int] = []
    for p in passages:
        body += ids[p.start:p.end].tolist() + separator
    return prefix + body + ids[start_recent:].tolist() + suffix, passages
