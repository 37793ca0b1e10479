"""Branches decoded together (famcli.branches) give each branch's tokens decoded alone."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from famcli.branches import decode_branches
from famcli.config import MemoryConfig
from famcli.engine import Engine
from famcli.generate import Sampling, generate


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
