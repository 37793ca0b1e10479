"""FAM (famcli.core.memory.fam) against a plain reference of Algorithm 2 on tiny random models."""

from __future__ import annotations

import pytest
import torch

from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine


def ids_of(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


def _attend(q, k, v, mask, scale):
    """Plain softmax attention with GQA: q (H, c, D), k/v (Hkv, S, D), mask (c, S) bool."""
    g = q.shape[0] // k.shape[0]
    k, v = k.repeat_interleave(g, 0), v.repeat_interleave(g, 0)
    scores = (q @ k.transpose(1, 2)) * scale
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def _qkv(layer, h, n_heads, n_kv, positions, model):
    """Projections plus HF's own rotary embedding (independent of famcli.core.positions)."""
    a, r = layer.self_attn, h.shape[0]
    q = a.q_proj(h).view(r, n_heads, -1).transpose(0, 1)
    k = a.k_proj(h).view(r, n_kv, -1).transpose(0, 1)
    v = a.v_proj(h).view(r, n_kv, -1).transpose(0, 1)
    cos, sin = model.model.rotary_emb(h, torch.tensor([positions]))
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
    q, k = apply_rotary_pos_emb(q[None], k[None], cos, sin)
    return q[0], k[0], v


def reference_fam(model, ids, B, m, N, prompt, zero_residual, keep_norm=False):
    """TransformerFAM Algorithm 2 written straight from the design doc: a loop over blocks and layers
    (keep_norm: each update rescaled, vector by vector, to the norm of the FAM it replaces)."""
    c = model.config
    H, Hkv, layers = c.num_attention_heads, c.num_key_value_heads, model.model.layers
    scale = c.head_dim ** -0.5 if hasattr(c, "head_dim") and c.head_dim else (c.hidden_size // H) ** -0.5

    def mlp_block(layer, x, attn, residual):
        h = residual + layer.self_attn.o_proj(attn.transpose(0, 1).reshape(x.shape[0], -1))
        return h + layer.mlp(layer.post_attention_layernorm(h))

    fam, x = [], prompt  # initial FAM: the prompt read alone, causally, at positions -N..-1
    for layer in layers:
        q, k, v = _qkv(layer, layer.input_layernorm(x), H, Hkv, list(range(-N, 0)), model)
        x = mlp_block(layer, x, _attend(q, k, v, torch.ones(N, N).tril().bool(), scale), x)
        fam.append(x)
    memory = [[] for _ in layers]  # per layer: list of (k, v) of previous blocks
    logits = []
    for tau, start in enumerate(range(0, len(ids), B)):
        block = ids[start:start + B]
        n, x = len(block), model.model.embed_tokens(block)
        for l, layer in enumerate(layers):
            q, k, v = _qkv(layer, layer.input_layernorm(x), H, Hkv, list(range(start, start + n)), model)
            hf = layer.input_layernorm(fam[l])
            qf, _, _ = _qkv(layer, hf, H, Hkv, list(range(start + B - N, start + B)), model)
            _, kf, vf = _qkv(layer, hf, H, Hkv, list(range(start - N, start)), model)
            mem_k = [mk for mk, _ in memory[l][-m:]] if m else []
            mem_v = [mv for _, mv in memory[l][-m:]] if m else []
            keys, values = torch.cat(mem_k + [kf, k], 1), torch.cat(mem_v + [vf, v], 1)
            n_mem = sum(t.shape[1] for t in mem_k)
            mask = torch.cat([torch.ones(n, n_mem + N), torch.ones(n, n).tril()], 1).bool()
            x_new = mlp_block(layer, x, _attend(q, keys, values, mask, scale), x)
            if n == B:  # a full block updates the FAM: queries see the previous FAM and the whole block
                attn_f = _attend(qf, torch.cat([kf, k], 1), torch.cat([vf, v], 1), torch.ones(N, N + n).bool(), scale)
                residual = torch.zeros_like(fam[l]) if (tau == 0 and zero_residual) else fam[l]
                new = mlp_block(layer, fam[l], attn_f, residual)
                if keep_norm:
                    new = new * fam[l].norm(dim=-1, keepdim=True) / new.norm(dim=-1, keepdim=True)
                fam[l] = new
            memory[l].append((k, v))
            x = x_new
        logits.append(model.lm_head(model.model.norm(x)))
    return torch.cat(logits)


@pytest.mark.parametrize("zero_residual,keep_norm", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("B,m,N,T", [(32, 1, 4, 200), (16, 2, 8, 100), (24, 0, 3, 97)])
def test_fam_streaming_equals_reference(llama, zero_residual, keep_norm, B, m, N, T):
    ids = ids_of(T, seed=B)
    prompt = torch.randn(N, llama.config.hidden_size, generator=torch.Generator().manual_seed(3))
    config = MemoryConfig(mode="fam", block_size=B, memory_segments=m, fam_length=N, fam_zero_residual=zero_residual,
                          fam_keep_norm=keep_norm)
    engine = Engine(llama, config, {"fam_prompt": prompt})
    state = engine.new_state()
    ours = torch.cat([engine.feed(state, ids[i:i + 5], all_logits=True) for i in range(0, T, 5)])
    theirs = reference_fam(llama, ids, B, m, N, prompt, zero_residual, keep_norm)
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=2e-4)
    assert state.updates == T // B


def test_fam_keep_norm_bounds_the_memory(llama):
    """Algorithm 2's FAM grows with every update; with fam_keep_norm each vector keeps its initial norm over
    hundreds of updates, and the memory still changes with what was read."""
    ids = ids_of(16 * 300, seed=4)
    norms = {}
    for keep in (False, True):
        engine = Engine(llama, MemoryConfig(mode="fam", block_size=16, memory_segments=1, fam_length=4,
                                            fam_keep_norm=keep))
        state = engine.new_state()
        start = state.mem.fam.norm(dim=-1)
        engine.feed(state, ids)
        norms[keep] = (start, state.mem.fam.norm(dim=-1))
        assert state.updates == 300
    start, end = norms[False]
    assert (end / start).min() > 2  # without the option the FAM grows
    start, end = norms[True]
    torch.testing.assert_close(end, start, rtol=1e-3, atol=1e-3)
    engine = Engine(llama, MemoryConfig(mode="fam", block_size=16, memory_segments=0, fam_length=4, fam_keep_norm=True))
    a, b = engine.new_state(), engine.new_state()
    engine.feed(a, ids[:64])
    engine.feed(b, ids_of(64, seed=5))
    assert (a.mem.fam - b.mem.fam).abs().max() > 1e-3


def test_fam_remembers_through_the_feedback_only(llama):
    """With m=0 a block sees nothing of the past but the FAM: changing block 0 must change block 3."""
    config = MemoryConfig(mode="fam", block_size=16, memory_segments=0, fam_length=4)
    engine = Engine(llama, config)
    a, b = ids_of(64, seed=1), ids_of(64, seed=1).clone()
    b[:16] = ids_of(16, seed=9)
    la = engine.feed(engine.new_state(), a, all_logits=True)
    lb = engine.feed(engine.new_state(), b, all_logits=True)
    assert (la[48:] - lb[48:]).abs().max() > 1e-3
    bswa = Engine(llama, config.replace(mode="bswa"))
    torch.testing.assert_close(bswa.feed(bswa.new_state(), a, all_logits=True)[48:],
                               bswa.feed(bswa.new_state(), b, all_logits=True)[48:])
