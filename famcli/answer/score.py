"""The model's own likelihoods, the one measure the answer path chooses by (docs/answers.md, "Scores").

log P(text | context) under the plain model (full attention: passages are short). `Scorer.loglik` gives the mean
log-probability per token of each continuation after one shared context, read once. Each continuation is read
after it and then taken back: in full attention a position past `n_tokens` is never attended to and is written
over by the next read, so setting `n_tokens` back undoes a read (a state's clone costs ~0.1 s: 189 MB of keys and
values for the default model's 8,192 positions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class Scorer:
    """Log-likelihoods from an engine in full-attention mode (Session.final_reader) and its tokenizer."""

    def __init__(self, engine, encode):
        self.engine = engine
        self.encode = encode

    def loglik(self, context: str, continuations: Sequence[str]) -> list[float]:
        """Mean log P per token of each continuation after the context (the continuation's own tokens; with no
        context, its first token is not scored)."""
        ids = self.encode(context)
        state = self.engine.new_state()
        last = self.engine.feed(state, ids) if ids else None
        read, logits_after = state.n_tokens, state.logits
        out = []
        for text in continuations:
            target = self.encode(text)
            if last is None:
                target_logits, scored = self._read(state, target, read, logits_after)[:-1], target[1:]
            else:
                target_logits, scored = torch.cat([last[None], self._read(state, target, read, logits_after)[:-1]]), target
            if not scored:
                out.append(float("-inf") if not target else 0.0)
                continue
            logp = torch.log_softmax(target_logits.float(), dim=-1)
            out.append(float(logp[torch.arange(len(scored)), torch.as_tensor(scored)].mean()))
        return out

    def _read(self, state, target: list[int], read: int, logits_after) -> torch.Tensor:
        """The logits (T, V) after each of the target's tokens read after the context; the state is left as the
        context left it."""
        if not target:
            return torch.empty(0, 1)
        if self.engine.config.mode != "full":  # a memory's read cannot be taken back: read a copy
            return self.engine.feed(state.clone(), target, all_logits=True)
        logits = self.engine.feed(state, target, all_logits=True)
        state.n_tokens, state.logits = read, logits_after
        return logits

    def each(self, contexts: Sequence[str], continuation: str) -> list[float]:
        """Mean log P of one continuation after each of several contexts (UPR: the question after each
        passage)."""
        return [self.loglik(c, [continuation])[0] for c in contexts]


def yes_share(scorer: Scorer, turn, text: str, claim: str) -> float:
    """The model's own judgement of whether a text says a claim: P("Yes") / (P("Yes") + P("No")) for its first
    word after the text and "Is this true according to the text: <claim>" in a user turn (`turn`: the chat
    template's). A check by meaning rather than by shared words: a sentence that uses the text's names and words
    to tell what it does not say is not kept because of them (docs/summaries.md, "The semantic check")."""
    prompt = turn(f"{text}\n\nIs this true according to the text: {claim}\nAnswer yes or no.")
    yes, no = scorer.loglik(prompt, ["Yes", "No"])
    return 1 / (1 + math.exp(no - yes))
