"""Branches decoded together (famcli.core.branches) give each branch's tokens decoded alone."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from famcli.core.branches import decode_branches, decode_prompts
from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine
from famcli.core.generate import Sampling, generate


def ids_of(n: int, seed: int = 1) -> list[int]:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


SAMPLINGS = [Sampling(no_repeat_ngram=3), Sampling(temperature=0.9, top_p=0.95, seed=1, no_repeat_ngram=3),
             Sampling(temperature=1.2, top_k=40, seed=2)]


@pytest.mark.parametrize("block", [16, 64])
def test_branches_equal_each_branch_alone(arch, block):
    engine = Engine(tiny_model(arch), MemoryConfig(mode="full", block_size=block))
    prompt = ids_of(37)
    alone = [generate(engine, engine.new_state(), prompt, 25, s) for s in SAMPLINGS]
    together = decode_branches(engine, engine.new_state(), prompt, SAMPLINGS, 25)
    assert together == alone
    assert len({tuple(t) for t in together}) == 3  # the branches really differ


def test_branches_stop_on_their_own(llama):
    engine = Engine(llama, MemoryConfig(mode="full", block_size=16))
    prompt = ids_of(20)
    alone = [generate(engine, engine.new_state(), prompt, 30, s) for s in SAMPLINGS]
    stop = alone[1][4]
    short = lambda out: len(out) >= 7
    expect = [generate(engine, engine.new_state(), prompt, 30, s, stop_ids=[stop], should_stop=short)
              for s in SAMPLINGS]
    got = decode_branches(engine, engine.new_state(), prompt, SAMPLINGS, 30, stop_ids=[stop], should_stop=short)
    assert got == expect
    assert len(got[1]) == 4  # stopped at the stop id, the others at 7 tokens or their own stop
    assert all(len(g) <= 7 for g in got)


def test_branches_need_the_plain_model_and_room(llama):
    engine = Engine(llama, MemoryConfig(mode="bswa", block_size=16))
    with pytest.raises(ValueError, match="plain model"):
        decode_branches(engine, engine.new_state(), ids_of(10), SAMPLINGS, 5)
    full = Engine(llama, MemoryConfig(mode="full", block_size=16))
    with pytest.raises(ValueError, match="do not fit"):
        decode_branches(full, full.new_state(), ids_of(2000), SAMPLINGS, 40)


@pytest.mark.parametrize("block", [16, 64])
def test_prompts_decoded_together_equal_each_alone(arch, block):
    """Rows of different prompts (different lengths, so different positions) in the same steps give each row's
    tokens decoded alone after its own prompt."""
    engine = Engine(tiny_model(arch), MemoryConfig(mode="full", block_size=block))
    prompts = [ids_of(37, seed=1), ids_of(12, seed=2), ids_of(50, seed=3)]
    rows = [(0, SAMPLINGS[0]), (1, SAMPLINGS[0]), (2, SAMPLINGS[1]), (1, SAMPLINGS[2]), (0, SAMPLINGS[1])]
    alone = [generate(engine, engine.new_state(), prompts[p], 20, s) for p, s in rows]
    together = decode_prompts(engine, prompts, rows, 20)
    assert together == alone
    assert len({tuple(t) for t in together}) == len(rows)


def test_prompts_stop_and_room(llama):
    engine = Engine(llama, MemoryConfig(mode="full", block_size=16))
    prompts = [ids_of(20, seed=4), ids_of(9, seed=5)]
    short = lambda out: len(out) >= 6
    rows = [(0, SAMPLINGS[0]), (1, SAMPLINGS[1])]
    expect = [generate(engine, engine.new_state(), prompts[p], 30, s, should_stop=short) for p, s in rows]
    assert decode_prompts(engine, prompts, rows, 30, should_stop=short) == expect
    with pytest.raises(ValueError, match="do not fit"):
        decode_prompts(engine, [ids_of(1500), ids_of(500)], rows, 40)
    with pytest.raises(ValueError, match="needs a token"):
        decode_prompts(engine, [ids_of(5), []], rows, 4)
