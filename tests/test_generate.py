"""Decoding on top of the engine (famcli.core.generate): against HF generate, across blocks, sampling, n-gram blocking."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine
from famcli.core.generate import Sampling, generate


def ids_of(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


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
    from famcli.core.generate import banned_tokens

    assert banned_tokens([1, 2, 3, 1, 2], 3) == {3}
    assert banned_tokens([1, 2, 3], 0) == set()
    engine = Engine(llama, MemoryConfig(mode="bswa", block_size=16))
    out = generate(engine, engine.new_state(), ids_of(5), 60, Sampling(no_repeat_ngram=3))
    trigrams = [tuple(out[i:i + 3]) for i in range(len(out) - 2)]
    assert len(trigrams) == len(set(trigrams))


def test_boost_raises_a_token_until_it_is_used_once():
    import torch

    from famcli.core.generate import next_token

    logits = torch.tensor([0.0, 2.0, 1.0, 0.5])
    boosted = Sampling(boost=((3, 4.0),))
    assert next_token(logits, [], Sampling(), None) == 1
    assert next_token(logits, [], boosted, None) == 3  # 0.5 + 4 beats 2
    assert next_token(logits, [3], boosted, None) == 1  # used once: no longer raised
    assert next_token(logits, [], Sampling(boost=((3, 4.0),), no_repeat_ngram=2), None) == 3
    assert next_token(logits, [3, 3], Sampling(boost=((3, 4.0),), no_repeat_ngram=2), None) == 1  # bans still win


@pytest.mark.parametrize("vocab,spread", [(300, 1.0), (49152, 1.0), (49152, 6.0), (49152, 0.05)])
def test_top_p_nucleus_is_the_sorted_rule(vocab, spread):
    """The nucleus looked up among the most likely tokens first keeps exactly what sorting the whole vocabulary
    keeps, the flat distributions whose nucleus reaches past them included (spread 0.05)."""
    from famcli.core.generate import _nucleus

    generator = torch.Generator().manual_seed(vocab)
    for _ in range(5):
        probs = (torch.randn(vocab, generator=generator) * spread).softmax(-1)
        for top_p in (0.5, 0.9, 0.95):
            sorted_p, order = probs.sort(descending=True)
            expected = probs.scatter(0, order, sorted_p.masked_fill(sorted_p.cumsum(-1) - sorted_p > top_p, 0.0))
            assert torch.equal(_nucleus(probs, top_p), expected)
