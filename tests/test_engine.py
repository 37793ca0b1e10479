"""Exactness of the streaming engine on tiny random models (design doc sections 2-5)."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from famcli.common.errors import ConfigError
from famcli.core.config import MemoryConfig
from famcli.core.engine import ContextOverflow, Engine


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


@pytest.mark.slow
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


@pytest.mark.parametrize("mode", ["fam", "sink"])
def test_feed_projects_only_the_logits_it_returns(llama, mode, monkeypatch):
    """A long feed without all_logits runs the vocabulary head once (for the last block), and its logits and
    state equal a read that kept every token's logits."""
    ids = ids_of(300)
    config = MemoryConfig(mode=mode, block_size=64, memory_segments=1)
    engine = Engine(llama, config)
    whole = engine.new_state()
    every = engine.feed(whole, ids, all_logits=True)
    calls = []
    head = llama.lm_head.forward
    monkeypatch.setattr(llama.lm_head, "forward", lambda x: calls.append(x.shape[0]) or head(x))
    state = engine.new_state()
    last = engine.feed(state, ids)
    assert calls == [1]
    torch.testing.assert_close(last.reshape(-1), every[-1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(state.logits, whole.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(state.k, whole.k)
