"""Every registered memory through the engine (famcli.core.memory), including a toy one defined here: adding a
memory is a module and a registry line, and the existing suite then tests it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from conftest import tiny_model

from famcli.common.errors import ConfigError
from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine
from famcli.core.memory import (
    BUILTIN,
    memory_class,
    modes,
    register,
    trainable_modes,
    unregister,
)
from famcli.core.memory.base import Memory, MemoryState
from famcli.core.positions import rotate
from famcli.training.mrbp import bptt, cut_blocks, mrbp


@dataclass
class MeanState(MemoryState):
    mean: torch.Tensor  # (L, 1, d) the row the next block reads
    sum: torch.Tensor  # (L, 1, d) the current block's outputs so far


class MeanMemory(Memory):
    """A toy memory: one row per layer, the mean of the layer's outputs over the previous block (blended with
    the row before), read by the next block like FAM keys; its starting row is learned."""

    trainable = True
    carried = "mean"
    within_block = ("sum",)

    @classmethod
    def rows(cls, config) -> int:
        return 1

    def __init__(self, engine, weights=None):
        super().__init__(engine, weights)
        start = (weights or {}).get("toy.start")
        self.start = start if start is not None else torch.zeros(engine.n_layers, 1, engine.hidden)

    def initial(self):
        return self.start.to(self.engine.param)

    def learnable(self):
        self.start = torch.nn.Parameter(self.start.detach().clone())
        return [self.start]

    def weights(self, dtype=None):
        return {"toy.start": self.start}

    def init_state(self):
        e = self.engine
        return MeanState(self.initial().detach().clone(), torch.zeros(e.n_layers, 1, e.hidden))

    def prepare(self, state, plan):
        if plan.starts:
            plan.extra["rope"] = self.engine.rotary.tables(plan.tau * self.config.block_size - 1, 1)

    def rows_in(self, l, state, plan):
        return state.mem.mean[l] if plan.starts else None

    def keep(self, l, state, plan, q, k, v):
        state.k[l][:, :1] = rotate(k, *plan.extra["rope"])
        state.v[l][:, :1] = v

    def finish(self, l, layer, state, plan, x, attn, keys, values):
        out = self.engine.finish(layer, x, attn)
        total = out.sum(0, keepdim=True) + (0 if plan.starts else state.mem.sum[l])
        if not plan.completes:
            state.mem.sum[l] = total
            return out, None
        return out, 0.5 * state.mem.mean[l] + 0.5 * total / self.config.block_size


TOY = "toy-mean"
MODES = (*BUILTIN, TOY)
CARRYING = ("fam", "memformer", TOY)  # memories with a tensor carried from block to block


@pytest.fixture(autouse=True)
def toy_registered():
    register(TOY, MeanMemory)
    yield
    unregister(TOY)


def config_for(mode: str, **changes) -> MemoryConfig:
    rows = 8 if mode == "keep" else 4  # keep's rows include its sink tokens
    return MemoryConfig(mode=mode, **({"block_size": 32, "memory_segments": 2, "fam_length": rows, "sink_tokens": 3}
                                      | changes))


def ids_of(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


def test_registry_lists_the_memories_and_refuses_unknown_ones():
    assert modes() == MODES and memory_class(TOY) is MeanMemory
    assert set(trainable_modes()) == {"fam", "memformer", TOY}
    assert tuple(m for m in modes() if memory_class(m).carried) == CARRYING
    with pytest.raises(ConfigError, match="unknown memory mode"):
        MemoryConfig(mode="nonsense")
    with pytest.raises(ValueError, match="built-in"):
        unregister("fam")


@pytest.mark.parametrize("mode", MODES)
def test_every_memory_declares_its_state_and_what_it_must_provide(llama, mode):
    """A memory's state is a dataclass of its own (one field per tensor, no string keys): the fields `carried`,
    `within_block` and `fp32` name are its fields, and `rows` and `init_state` cannot be left out."""
    import dataclasses

    engine = Engine(llama, config_for(mode))
    state, cls = engine.new_state(), memory_class(mode)
    assert isinstance(state.mem, MemoryState) and dataclasses.is_dataclass(state.mem)
    fields = {f.name for f in dataclasses.fields(state.mem)}
    named = {n for n in (cls.carried, *cls.within_block, *cls.fp32) if n is not None}
    assert named <= fields and set(state.mem.tensors()) <= fields
    assert all(isinstance(t, torch.Tensor) for t in state.mem.tensors().values())
    assert set(state.tensors()) == {"k", "v", *state.mem.tensors()}

    class NoState(Memory):
        @classmethod
        def rows(cls, config):
            return 0

    with pytest.raises(TypeError, match="init_state"):
        NoState(engine)


@pytest.mark.parametrize("mode", MODES)
def test_chunking_does_not_change_logits(llama, mode):
    ids = ids_of(300)
    engine = Engine(llama, config_for(mode))
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


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("split", [40, 64, 77])
def test_save_load_continue_equals_never_stopping(llama, tmp_path, mode, split):
    ids = ids_of(200)
    engine = Engine(llama, config_for(mode, memory_segments=1, sink_tokens=4))
    straight = engine.feed(engine.new_state(), ids, all_logits=True)[split:]
    state = engine.new_state()
    engine.feed(state, ids[:split])
    engine.save_state(state, tmp_path / "s.safetensors")
    resumed = engine.load_state(tmp_path / "s.safetensors")
    assert resumed.n_tokens == split and resumed.updates == state.updates
    assert resumed.mem.tensors().keys() == state.mem.tensors().keys() and type(resumed.mem) is type(state.mem)
    torch.testing.assert_close(engine.feed(resumed, ids[split:], all_logits=True), straight, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_state_does_not_grow_with_blocks(llama, mode):
    engine = Engine(llama, config_for(mode, block_size=16))
    state = engine.new_state()
    engine.feed(state, ids_of(16 * 5))
    size, ptr = state.nbytes(), state.k.data_ptr()
    engine.feed(state, ids_of(16 * 200 if engine.max_tokens is None else engine.max_tokens - 16 * 5))
    assert state.nbytes() == size and state.k.data_ptr() == ptr


@pytest.mark.parametrize("mode", MODES)
def test_a_clone_reads_on_independently(llama, mode):
    engine = Engine(llama, config_for(mode))
    state = engine.new_state()
    engine.feed(state, ids_of(70))
    copy = state.clone()
    after = engine.feed(state, ids_of(50, seed=2), all_logits=True)
    torch.testing.assert_close(engine.feed(copy, ids_of(50, seed=2), all_logits=True), after)


@pytest.mark.parametrize("mode", CARRYING)
def test_memory_is_updated_once_per_block_and_read_by_the_next(llama, mode):
    engine = Engine(llama, config_for(mode, memory_segments=0))
    state = engine.new_state()
    engine.feed(state, ids_of(32 * 3 + 5))
    assert state.updates == 3
    changed = state.clone()
    carried = engine.memory.carried
    setattr(changed.mem, carried, getattr(changed.mem, carried) + torch.randn_like(getattr(changed.mem, carried)))
    assert (engine.feed(changed, ids_of(40)) - engine.feed(state, ids_of(40))).abs().max() > 1e-3


@pytest.mark.parametrize("mode", CARRYING)
def test_mrbp_equals_bptt(mode):
    grads = []
    for method in (mrbp, bptt):
        model = tiny_model("llama").requires_grad_(True)
        engine = Engine(model, config_for(mode, block_size=8, memory_segments=1))
        own = engine.memory.learnable()
        ids = ids_of(45, seed=3).tolist()
        weights = [0.0] * 30 + [1.0] * 15
        weights[3] = 0.5
        method(engine, engine.memory.initial(), cut_blocks(ids, weights, 8))
        grads.append([p.grad.clone() for p in [*own, *model.parameters()] if p.grad is not None])
    assert len(grads[0]) == len(grads[1]) and grads[0][0].abs().sum() > 0  # the memory's own weights learn
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
