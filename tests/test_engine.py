"""Exactness of the streaming engine on tiny random models (design doc sections 2-5)."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from famcli.config import ConfigError, MemoryConfig
from famcli.engine import ContextOverflow, Engine
from famcli.generate import Sampling, generate


def ids_of(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode,extra", [("bswa", {}), ("fam", {"fam_length": 0}), ("full", {}), ("sink", {})])
def test_whole_document_in_window_equals_hf(arch, mode, extra):
    model = tiny_model(arch)
    ids = ids_of(300)
    theirs = model(ids[None]).logits[0]
    engine = Engine(model, MemoryConfig(mode=mode, block_size=64, memory_segments=5, **extra))
    ours = engine.feed(engine.new_state(), ids, all_logits=True)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("T", [77, 200, 129])
def test_sink_equals_hf_on_sink_tokens_plus_window(llama, T):
    """StreamingLLM: the last block sees the first tokens and itself, at contiguous positions. (With m=0 the
    window holds nothing computed under an older window, so the plain model on [sink, block] is exact.)"""
    B, S, m = 32, 4, 0
    ids = ids_of(T)
    engine = Engine(llama, MemoryConfig(mode="sink", block_size=B, memory_segments=m, sink_tokens=S))
    ours = engine.feed(engine.new_state(), ids, all_logits=True)
    last = (T - 1) // B * B
    window = torch.cat([ids[:S], ids[last - m * B:]])
    theirs = llama(window[None]).logits[0][S + m * B:]
    torch.testing.assert_close(ours[last:], theirs, atol=1e-4, rtol=1e-4)


def test_window_smaller_than_document_differs_from_hf(llama):
    ids = ids_of(300)
    theirs = llama(ids[None]).logits[0]
    engine = Engine(llama, MemoryConfig(mode="bswa", block_size=64, memory_segments=1))
    ours = engine.feed(engine.new_state(), ids, all_logits=True)
    torch.testing.assert_close(ours[:128], theirs[:128], atol=1e-4, rtol=1e-4)
    assert (ours[200:] - theirs[200:]).abs().max() > 1e-2


@pytest.mark.parametrize("mode", ["fam", "bswa", "sink", "full"])
def test_chunking_does_not_change_logits(llama, mode):
    ids = ids_of(300)
    config = MemoryConfig(mode=mode, block_size=32, memory_segments=2, fam_length=4, sink_tokens=3)
    engine = Engine(llama, config)
    whole = engine.feed(engine.new_state(), ids, all_logits=True)
    state = engine.new_state()
    one_by_one = torch.cat([engine.feed(state, ids[i:i + 1], all_logits=True) for i in range(len(ids))])
    state, parts, start = engine.new_state(), [], 0
    for size in (7, 1, 40, 13, 64, 100, 75):
        parts.append(engine.feed(state, ids[start:start + size], all_logits=True))
        start += size
    torch.testing.assert_close(one_by_one, whole, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(torch.cat(parts), whole, atol=1e-4, rtol=1e-4)
    assert state.n_tokens == 300


def _attend(q, k, v, mask, scale):
    """Plain softmax attention with GQA: q (H, c, D), k/v (Hkv, S, D), mask (c, S) bool."""
    g = q.shape[0] // k.shape[0]
    k, v = k.repeat_interleave(g, 0), v.repeat_interleave(g, 0)
    scores = (q @ k.transpose(1, 2)) * scale
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def _qkv(layer, h, n_heads, n_kv, positions, model):
    """Projections plus HF's own rotary embedding (independent of famcli.positions)."""
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
    engine = Engine(llama, config, fam_prompt=prompt)
    state = engine.new_state()
    ours = torch.cat([engine.feed(state, ids[i:i + 5], all_logits=True) for i in range(0, T, 5)])
    theirs = reference_fam(llama, ids, B, m, N, prompt, zero_residual, keep_norm)
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=2e-4)
    assert state.fam_updates == T // B


def test_fam_keep_norm_bounds_the_memory(llama):
    """Algorithm 2's FAM grows with every update; with fam_keep_norm each vector keeps its initial norm over
    hundreds of updates, and the memory still changes with what was read."""
    ids = ids_of(16 * 300, seed=4)
    norms = {}
    for keep in (False, True):
        engine = Engine(llama, MemoryConfig(mode="fam", block_size=16, memory_segments=1, fam_length=4,
                                            fam_keep_norm=keep))
        state = engine.new_state()
        start = state.fam.norm(dim=-1)
        engine.feed(state, ids)
        norms[keep] = (start, state.fam.norm(dim=-1))
        assert state.fam_updates == 300
    start, end = norms[False]
    assert (end / start).min() > 2  # without the option the FAM grows
    start, end = norms[True]
    torch.testing.assert_close(end, start, rtol=1e-3, atol=1e-3)
    engine = Engine(llama, MemoryConfig(mode="fam", block_size=16, memory_segments=0, fam_length=4, fam_keep_norm=True))
    a, b = engine.new_state(), engine.new_state()
    engine.feed(a, ids[:64])
    engine.feed(b, ids_of(64, seed=5))
    assert (a.fam - b.fam).abs().max() > 1e-3


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


@pytest.mark.parametrize("mode", ["fam", "sink", "bswa", "full"])
@pytest.mark.parametrize("split", [40, 64, 77])
def test_save_load_continue_equals_never_stopping(llama, tmp_path, mode, split):
    ids = ids_of(200)
    engine = Engine(llama, MemoryConfig(mode=mode, block_size=32, memory_segments=1, fam_length=4, sink_tokens=4))
    straight = engine.feed(engine.new_state(), ids, all_logits=True)[split:]
    state = engine.new_state()
    engine.feed(state, ids[:split])
    engine.save_state(state, tmp_path / "s.safetensors")
    resumed = engine.load_state(tmp_path / "s.safetensors")
    assert resumed.n_tokens == split
    torch.testing.assert_close(engine.feed(resumed, ids[split:], all_logits=True), straight, atol=1e-5, rtol=1e-5)


def test_state_file_refuses_other_config(llama, tmp_path):
    engine = Engine(llama, MemoryConfig(mode="fam", block_size=32))
    state = engine.new_state()
    engine.feed(state, ids_of(10))
    engine.save_state(state, tmp_path / "s.safetensors")
    other = Engine(llama, MemoryConfig(mode="fam", block_size=16))
    with pytest.raises(ValueError, match="saved with memory"):
        other.load_state(tmp_path / "s.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a state")
    with pytest.raises(Exception):
        engine.load_state(tmp_path / "junk.safetensors")


def test_bswa_last_window_independent_of_history_length():
    """Same last window after ~10k and after ~1M positions: same logits (positions are relative)."""
    model = tiny_model("llama", max_position_embeddings=4096, num_hidden_layers=1)
    B = 1024
    engine = Engine(model, MemoryConfig(mode="bswa", block_size=B, memory_segments=1))
    window = ids_of(2 * B, seed=5)
    results = []
    for blocks_before in (10, 1000):
        state = engine.new_state()
        filler = ids_of(B, seed=7)
        for _ in range(blocks_before):
            engine.feed(state, filler)
        results.append(engine.feed(state, window, all_logits=True)[B:])
    assert state.n_tokens > 1_000_000
    torch.testing.assert_close(results[0], results[1], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("mode", ["fam", "bswa", "sink"])
def test_state_does_not_grow_with_blocks(llama, mode):
    engine = Engine(llama, MemoryConfig(mode=mode, block_size=16, memory_segments=2, fam_length=4))
    state = engine.new_state()
    engine.feed(state, ids_of(16 * 5))
    size, ptr = state.nbytes(), state.k.data_ptr()
    engine.feed(state, ids_of(16 * 200))
    assert state.nbytes() == size and state.k.data_ptr() == ptr


def test_full_refuses_past_context_window():
    model = tiny_model("llama", max_position_embeddings=128)
    engine = Engine(model, MemoryConfig(mode="full", block_size=32))
    state = engine.new_state()
    engine.feed(state, ids_of(100))
    with pytest.raises(ContextOverflow, match="--memory fam"):
        engine.feed(state, ids_of(40))


def test_window_larger_than_context_is_refused():
    model = tiny_model("llama", max_position_embeddings=128)
    with pytest.raises(ConfigError, match="context window"):
        Engine(model, MemoryConfig(mode="bswa", block_size=64, memory_segments=2))


@pytest.mark.parametrize("mode", ["fam", "bswa"])
def test_greedy_generation_equals_hf_generate(arch, mode):
    model = tiny_model(arch)
    prompt = ids_of(50)
    theirs = model.generate(prompt[None], max_new_tokens=30, do_sample=False, eos_token_id=None,
                            pad_token_id=0)[0, 50:].tolist()
    engine = Engine(model, MemoryConfig(mode=mode, block_size=16, memory_segments=8, fam_length=0))
    assert generate(engine, engine.new_state(), prompt, 30) == theirs


def test_generation_crosses_blocks_like_one_forward(llama):
    """Tokens generated one by one give the logits a single forward over the same tokens gives."""
    engine = Engine(llama, MemoryConfig(mode="fam", block_size=16, memory_segments=1, fam_length=4))
    state = engine.new_state()
    new = generate(engine, state, ids_of(20), 40, Sampling(temperature=0.9, seed=3))
    assert len(new) == 40
    full = torch.cat([ids_of(20), torch.tensor(new)])
    last = engine.feed(engine.new_state(), full[:-1])
    torch.testing.assert_close(last, state.logits, atol=1e-4, rtol=1e-4)


def test_sampling_is_deterministic_with_seed_and_stops(llama):
    engine = Engine(llama, MemoryConfig(mode="bswa", block_size=16))
    run = lambda seed: generate(engine, engine.new_state(), ids_of(10), 20, Sampling(1.0, 50, 0.9, seed))
    assert run(1) == run(1)
    assert run(1) != run(2)
    greedy = generate(engine, engine.new_state(), ids_of(10), 20)
    stopped = generate(engine, engine.new_state(), ids_of(10), 20, stop_ids=[greedy[5]])
    assert stopped == greedy[: greedy.index(greedy[5])]


def test_no_repeat_ngram_blocks_loops(llama):
    from famcli.generate import banned_tokens

    assert banned_tokens([1, 2, 3, 1, 2], 3) == {3}
    assert banned_tokens([1, 2, 3], 0) == set()
    engine = Engine(llama, MemoryConfig(mode="bswa", block_size=16))
    out = generate(engine, engine.new_state(), ids_of(5), 60, Sampling(no_repeat_ngram=3))
    trigrams = [tuple(out[i:i + 3]) for i in range(len(out) - 2)]
    assert len(trigrams) == len(set(trigrams))


def test_fused_projections_follow_in_place_changes_and_biases(arch):
    """q/k/v and gate/up run as one product each; the modules' weights are views of the fused tensors, so an
    adapter merged in place after the engine was built (and biases, as in Qwen2) still reach the engine."""
    from famcli.engine import _fused

    model = tiny_model(arch)
    engine = Engine(model, MemoryConfig(mode="bswa", block_size=64, memory_segments=5))
    attn, mlp = model.model.layers[0].self_attn, model.model.layers[0].mlp
    assert _fused(attn) is not None and _fused(mlp) is not None
    assert attn.k_proj.weight.data_ptr() != attn.q_proj.weight.data_ptr()
    with torch.no_grad():  # what merging an adapter does: in-place changes of the modules' weights
        for layer in model.model.layers:
            for lin in (layer.self_attn.q_proj, layer.self_attn.v_proj, layer.mlp.up_proj):
                lin.weight.add_(torch.randn_like(lin.weight) * 0.05)
                if lin.bias is not None:
                    lin.bias.normal_(0, 0.5)
    ids = ids_of(200)
    theirs = model(ids[None]).logits[0]
    ours = engine.feed(engine.new_state(), ids, all_logits=True)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_lora_wrapped_layers_bypass_the_fused_products(llama):
    """LoRA injected after the engine was built (as in training) must not be skipped by the fused path."""
    from peft import LoraConfig, inject_adapter_in_model

    from famcli.engine import _fused

    engine = Engine(llama, MemoryConfig(mode="bswa", block_size=64, memory_segments=5))
    ids = ids_of(150)
    base = engine.feed(engine.new_state(), ids, all_logits=True)
    inject_adapter_in_model(LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "gate_proj"]), llama)
    for name, m in llama.named_modules():
        if hasattr(m, "lora_B") and "default" in m.lora_B:
            torch.nn.init.normal_(m.lora_B["default"].weight, 0, 0.2)
    assert _fused(llama.model.layers[0].self_attn) is None and _fused(llama.model.layers[0].mlp) is None
    with torch.no_grad():
        theirs = llama(ids[None]).logits[0]
        ours = engine.feed(engine.new_state(), ids, all_logits=True)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
    assert (ours - base).abs().max() > 1e-2
