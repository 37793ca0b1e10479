"""Several continuations of one prompt decoded together: a shared prefix, one row per branch.

A summary writes a section's note greedily and, when it fails, sampled drafts from the same reading; a part's
summary is chosen from several candidates continuing one prompt. On a CPU decoding is bound by memory
traffic: every token reads all the layer weights (270 MB for the 135M model in bf16) and the prompt's keys
and values, so k drafts decoded one after another cost k times one. Decoded together, each step carries every
live branch as one row of the same chunk, so the weights and the prompt are read once per step: the branch
rows see the prompt and their own earlier tokens (a tree mask), and their keys and values go to scratch rows
of the state's buffer past the prompt.

Only the plain model (mode `full`, no memory rows) decodes this way; its tokens are the ones decoding each
branch alone gives (tests/test_branches.py), each branch with its own sampling and generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from famcli.generate import Sampling, next_token
from famcli.positions import rotate
from famcli.kernels.cpu_attention import bias_of, grouped_attention


def decode_branches(engine, state, prompt_ids, samplings: Sequence[Sampling], max_new_tokens: int,
                    stop_ids=(), should_stop: Callable[[list[int]], bool] | None = None) -> list[list[int]]:
    """The new tokens of each branch (one per sampling) after reading prompt_ids into state.

    Each branch ends at a stop id (not kept), when should_stop(its tokens) says so, or at max_new_tokens.
    The state reads prompt_ids like `engine.feed`; the buffer rows past it are scratch afterwards (decode
    from a clone to keep reading)."""
    if engine.config.mode != "full" or engine.head:
        raise ValueError("branches decode only on the plain model (mode full)")
    logits = engine.feed(state, prompt_ids)
    k, n, stop = len(samplings), state.n_tokens, {int(i) for i in stop_ids}
    if n + k * max_new_tokens > engine.buffer_len:
        raise ValueError(f"{k} branches of {max_new_tokens} tokens do not fit after {n} tokens")
    for l in range(engine.n_layers):  # masked scratch must still be finite: 0 x NaN is NaN
        state.k[l][:, n:n + k * max_new_tokens].zero_()
        state.v[l][:, n:n + k * max_new_tokens].zero_()
    generators = [None if s.seed is None else torch.Generator(device="cpu").manual_seed(s.seed) for s in samplings]
    outs: list[list[int]] = [[] for _ in samplings]
    live = list(range(k))
    step_logits = [logits] * k
    for step in range(max_new_tokens):
        still = []
        for j in live:
            token = next_token(step_logits[j].cpu(), outs[j], samplings[j], generators[j])
            if token in stop:
                continue
            outs[j].append(token)
            if not (should_stop is not None and should_stop(outs[j])) and step + 1 < max_new_tokens:
                still.append(j)
        live = still
        if not live:
            break
        rows = _step(engine, state, [outs[j][-1] for j in live], live, n + step, n, max_new_tokens)
        step_logits = dict(zip(live, rows))
    return outs


def _step(engine, state, tokens: list[int], branches: list[int], position: int, prefix: int,
          span: int) -> torch.Tensor:
    """Read one token per live branch, all at `position`; branch j's keys sit at prefix + j * span + step.
    Returns the (len(branches), V) logits."""
    device = engine.param.device
    step = position - prefix
    slots = torch.tensor([prefix + j * span + step for j in branches], device=device)
    width = prefix + (max(branches) + 1) * span
    visible = torch.zeros(len(branches), width, dtype=torch.bool, device=device)
    visible[:, :prefix] = True
    for r, j in enumerate(branches):
        visible[r, prefix + j * span: prefix + j * span + step + 1] = True
    # a tree mask, which no backend's block rule expresses: the CPU path's grouped attention takes any bias
    bias = bias_of(visible, engine.n_heads // engine.n_kv, engine.param.dtype)
    cos, sin = engine.rotary.tables(position, 1)
    x = engine.model.model.embed_tokens(torch.tensor(tokens, device=device))
    with torch.no_grad():
        for l, layer in enumerate(engine.layers):
            q, k, v = engine.math.project(layer, layer.input_layernorm(x))  # (H|Hkv, c, D)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            state.k[l][:, slots] = k
            state.v[l][:, slots] = v
            attn = grouped_attention(q, state.k[l][:, :width], state.v[l][:, :width], bias, engine.scale)
            x = engine.finish(layer, x, attn)
        return engine.model.lm_head(engine.model.model.norm(x)).float()
