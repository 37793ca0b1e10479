"""The model's own likelihoods, the one measure the answer path chooses by (docs/answers.md, "Scores").

A 135M model writes badly but scores well: log P(text | context) under the plain model (full attention, the
document's passages are short). `Scorer.loglik` gives the mean log-probability per token of each continuation
after one shared context, read once (its state is cloned for each continuation).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class Scorer:
    """Log-likelihoods from an engine in full-attention mode (Session.final_reader) and its tokenizer."""

    def __init__(self, engine, encode):
        self.engine = engine
        self.encode = encode

    def loglik(self, context: str, continuations: Sequence[str]) -> list[float]:
        """Mean log P per token of each continuation after the context (the continuation's own tokens)."""
        ids = self.encode(context)
        state = self.engine.new_state()
        last = self.engine.feed(state, ids) if ids else None
        out = []
        for text in continuations:
            target = self.encode(text)
            if not target:
                out.append(float("-inf"))
                continue
            s = state.clone()
            logits = self.engine.feed(s, target, all_logits=True)  # (T, V)
            if last is None:  # no context: the first token is not scored
                logits, target = logits[:-1], target[1:]
                if not target:
                    out.append(0.0)
                    continue
            else:
                logits = torch.cat([last[None], logits[:-1]])
            logp = torch.log_softmax(logits.float(), dim=-1)
            picked = logp[torch.arange(len(target)), torch.as_tensor(target)]
            out.append(float(picked.mean()))
        return out

    def each(self, contexts: Sequence[str], continuation: str) -> list[float]:
        """Mean log P of one continuation after each of several contexts (UPR: the question after each
        passage)."""
        return [self.loglik(c, [continuation])[0] for c in contexts]
