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

import dataclasses
from collections.abc import Callable, Sequence

import torch

from famcli.core.generate import Sampling, next_token
from famcli.core.positions import rotate
from famcli_kernels.cpu_attention import bias_of, grouped_attention


def decode_branches(engine, state, prompt_ids, samplings: Sequence[Sampling], max_new_tokens: int,
                    stop_ids=(), should_stop: Callable[[list[int]], bool] | None = None) -> list[list[int]]:
    """The new tokens of each branch (one per sampling) after reading prompt_ids into state.

    Each branch ends at a stop id (not kept), when should_stop(its tokens) says so, or at max_new_tokens.
    The state reads prompt_ids like `engine.feed`; the buffer rows past it are scratch afterwards (decode
    from a clone to keep reading)."""
    _plain(engine)
    logits = engine.feed(state, prompt_ids)
    return _decode(engine, state, [(0, state.n_tokens)], [logits], [(0, s) for s in samplings], max_new_tokens,
                   stop_ids, should_stop)


def decode_prompts(engine, prompts: Sequence[Sequence[int]], rows: Sequence[tuple[int, Sampling]],
                   max_new_tokens: int, stop_ids=(),
                   should_stop: Callable[[list[int]], bool] | None = None) -> list[list[int]]:
    """The new tokens of each row, (prompt index, sampling), after its prompt: several prompts decoded in the
    same steps (the notes of eight sections, the candidates of every part of a summary). Each prompt is read
    alone (its own positions from 0, seeing nothing of the others) and its keys and values are laid side by
    side in one buffer; each row sees its own prompt and its own tokens. A row's tokens are those
    `decode_branches` gives it alone with its prompt (tests/test_branches.py)."""
    _plain(engine)
    spans = [(sum(len(p) for p in prompts[:i]), len(prompts[i])) for i in range(len(prompts))]
    if not prompts or min(n for _, n in spans) == 0:
        raise ValueError("every prompt needs a token")
    if sum(n for _, n in spans) + len(rows) * max_new_tokens > engine.buffer_len:
        raise ValueError(f"{len(prompts)} prompts and {len(rows)} rows of {max_new_tokens} tokens do not fit")
    state, scratch, logits = engine.new_state(), engine.new_state(), []
    for (at, n), ids in zip(spans, prompts):
        one = dataclasses.replace(scratch, mem=engine.memory.init_state(), n_tokens=0, updates=0, logits=None)
        logits.append(engine.feed(one, list(ids)))
        state.k[:, :, at:at + n] = one.k[:, :, :n]
        state.v[:, :, at:at + n] = one.v[:, :, :n]
    return _decode(engine, state, spans, logits, rows, max_new_tokens, stop_ids, should_stop)


def _plain(engine) -> None:
    if engine.config.mode != "full" or engine.head:
        raise ValueError("branches decode only on the plain model (mode full)")


def _decode(engine, state, spans: list[tuple[int, int]], logits: list[torch.Tensor],
            rows: Sequence[tuple[int, Sampling]], max_new_tokens: int, stop_ids,
            should_stop: Callable[[list[int]], bool] | None) -> list[list[int]]:
    """Decode every row after its prompt's span of the buffer; row j's keys go to scratch slots
    base + j * max_new_tokens + step, past every prompt."""
    k, base, stop = len(rows), spans[-1][0] + spans[-1][1], {int(i) for i in stop_ids}
    if base + k * max_new_tokens > engine.buffer_len:
        raise ValueError(f"{k} branches of {max_new_tokens} tokens do not fit after {base} tokens")
    for l in range(engine.n_layers):  # masked scratch must still be finite: 0 x NaN is NaN
        state.k[l][:, base:base + k * max_new_tokens].zero_()
        state.v[l][:, base:base + k * max_new_tokens].zero_()
    generators = [None if s.seed is None else torch.Generator(device="cpu").manual_seed(s.seed) for _, s in rows]
    outs: list[list[int]] = [[] for _ in rows]
    live = list(range(k))
    step_logits = {j: logits[p] for j, (p, _) in enumerate(rows)}
    for step in range(max_new_tokens):
        still = []
        for j in live:
            token = next_token(step_logits[j].cpu(), outs[j], rows[j][1], generators[j])
            if token in stop:
                continue
            outs[j].append(token)
            if not (should_stop is not None and should_stop(outs[j])) and step + 1 < max_new_tokens:
                still.append(j)
        live = still
        if not live:
            break
        out = _step(engine, state, [outs[j][-1] for j in live], [spans[rows[j][0]] for j in live], live, step, base,
                    max_new_tokens)
        step_logits = dict(zip(live, out))
    return outs


def _groups(branches: list[int], spans: list[tuple[int, int]], step: int, base: int, span: int, group: int,
            dtype, device) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The live rows by prompt: (their places in the step, the buffer slots they see: the prompt's and each row's
    own tokens so far, the additive bias that shows each row only its own). A row reads a few hundred keys,
    not the buffer of every prompt side by side: on eight sections' notes, attention fell from a third of the
    decoding time to a few percent."""
    by_prompt: dict[tuple[int, int], list[int]] = {}
    for r, at_n in enumerate(spans):
        by_prompt.setdefault(at_n, []).append(r)
    out = []
    for (at, n), rows in by_prompt.items():
        own = [torch.arange(base + branches[r] * span, base + branches[r] * span + step + 1) for r in rows]
        keys = torch.cat([torch.arange(at, at + n), *own]).to(device)
        visible = torch.zeros(len(rows), len(keys), dtype=torch.bool, device=device)
        visible[:, :n] = True
        for i in range(len(rows)):
            visible[i, n + i * (step + 1): n + (i + 1) * (step + 1)] = True
        out.append((torch.tensor(rows, device=device), keys, bias_of(visible, group, dtype)))
    return out


def _step(engine, state, tokens: list[int], spans: list[tuple[int, int]], branches: list[int], step: int,
          base: int, span: int) -> torch.Tensor:
    """Read one token per live branch: branch j's token follows its prompt (positions go on from the prompt's
    length) and its keys sit at base + j * span + step. Returns the (len(branches), V) logits."""
    device = engine.param.device
    slots = torch.tensor([base + j * span + step for j in branches], device=device)
    groups = _groups(branches, spans, step, base, span, engine.n_heads // engine.n_kv, engine.param.dtype, device)
    lengths = sorted({n for _, n in spans})
    tables = {n: engine.rotary.tables(n + step, 1) for n in lengths}
    cos = torch.cat([tables[n][0] for _, n in spans])
    sin = torch.cat([tables[n][1] for _, n in spans])
    x = engine.model.model.embed_tokens(torch.tensor(tokens, device=device))
    with torch.no_grad():
        for l, layer in enumerate(engine.layers):
            q, k, v = engine.math.project(layer, layer.input_layernorm(x))  # (H|Hkv, c, D)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            state.k[l][:, slots] = k
            state.v[l][:, slots] = v
            attn = torch.empty_like(q)
            for rows, keys, bias in groups:
                attn[:, rows] = grouped_attention(q[:, rows], state.k[l][:, keys], state.v[l][:, keys], bias,
                                                  engine.scale)
            x = engine.finish(layer, x, attn)
        return engine.model.lm_head(engine.model.model.norm(x)).float()
