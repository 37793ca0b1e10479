"""Decoding on top of the engine (docs/design.md, section 5): greedy or sampled, with stop tokens.

The prompt extends the current block; each new token is read like any other, so when a block fills it
rolls into the ring buffer and the FAM updates exactly as during reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from famcli.common.errors import UserError

if TYPE_CHECKING:  # annotations only: decoding calls the engine it is given
    from famcli.core.engine import Engine, State


@dataclass(frozen=True)
class Sampling:
    """temperature 0 means greedy; top_k 0 and top_p 1 mean no cut; no_repeat_ngram n > 0 forbids a token
    that would repeat an n-gram already generated (small models loop without it); boost adds its logit to
    each (token, logit) pair's token until the output holds that token once (a note nudged towards the names
    its passage uses, each at most once: famcli.summary.summary)."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None
    no_repeat_ngram: int = 0
    boost: tuple[tuple[int, float], ...] = ()

    def __post_init__(self):
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0 or self.no_repeat_ngram < 0:
            raise UserError("temperature must be >= 0, top-p in (0, 1], top-k and no-repeat-ngram >= 0")


def banned_tokens(history: list[int], n: int) -> set[int]:
    """Tokens that would complete an n-gram already present in history."""
    if n <= 0 or len(history) < n:
        return set()
    prefix = tuple(history[len(history) - n + 1:])
    return {history[i + n - 1] for i in range(len(history) - n + 1) if tuple(history[i:i + n - 1]) == prefix}


def next_token(logits: torch.Tensor, out: list[int], sampling: Sampling, generator: torch.Generator | None) -> int:
    """The next token after out: n-grams that would repeat banned, boosted tokens not yet used raised, then
    `pick`."""
    banned = banned_tokens(out, sampling.no_repeat_ngram)
    boost = [(t, b) for t, b in sampling.boost if t not in out]
    if banned or boost:
        logits = logits.clone()
        for t, b in boost:
            logits[t] += b
        logits[list(banned)] = float("-inf")
    return pick(logits, sampling, generator)


def pick(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator | None) -> int:
    """Choose the next token id from (V,) logits."""
    if sampling.temperature == 0:
        return int(logits.argmax())
    logits = logits.float() / sampling.temperature
    if sampling.top_k:
        kth = torch.topk(logits, min(sampling.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(-1)
    if sampling.top_p < 1:
        probs = _nucleus(probs, sampling.top_p)
    return int(torch.multinomial(probs, 1, generator=generator))


NUCLEUS_FIRST = 256  # most likely tokens looked at first for top-p: a sort of the whole vocabulary only when
                     # they hold less than top_p (a full sort of 49k logits was 6% of a summary's time)


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """probs with every token outside the top-p nucleus set to 0: a token is kept while the tokens more likely
    than it hold at most top_p."""
    k = min(NUCLEUS_FIRST, probs.numel())
    sorted_p, order = torch.topk(probs, k)
    if k < probs.numel() and float(sorted_p.sum()) <= top_p:
        sorted_p, order = probs.sort(descending=True)
    drop = sorted_p.cumsum(-1) - sorted_p > top_p
    return torch.zeros_like(probs).scatter_(0, order, sorted_p.masked_fill(drop, 0.0))


def stream_tokens(engine: Engine, state: State, prompt_ids, max_new_tokens: int,
                  sampling: Sampling = Sampling(), stop_ids=(),
                  should_stop: Callable[[list[int]], bool] | None = None) -> Iterator[int]:
    """Yield new token ids one at a time; stops at a stop id (not yielded), a callback or the limit."""
    generator = None
    if sampling.seed is not None:
        generator = torch.Generator(device="cpu").manual_seed(sampling.seed)
    logits = engine.feed(state, prompt_ids)
    out: list[int] = []
    stop = set(int(i) for i in stop_ids)
    for step in range(max_new_tokens):
        token = next_token(logits.cpu(), out, sampling, generator)
        if token in stop:
            return
        out.append(token)
        yield token
        if should_stop is not None and should_stop(out):
            return
        if step + 1 < max_new_tokens:
            logits = engine.feed(state, [token])


def generate(engine: Engine, state: State, prompt_ids, max_new_tokens: int,
             sampling: Sampling = Sampling(), stop_ids=(), should_stop=None) -> list[int]:
    return list(stream_tokens(engine, state, prompt_ids, max_new_tokens, sampling, stop_ids, should_stop))
