"""--dtype int8 (famcli.quant): int8 layer weights with per-channel scales and dynamically quantised
activations, against the fp32 engine on tiny random models."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from famcli.config import MemoryConfig
from famcli.engine import Engine
from famcli.quant import Int8Linear


def read(model, config: MemoryConfig, ids: torch.Tensor, all_logits: bool = True) -> torch.Tensor:
    engine = Engine(model, config)
    return engine.feed(engine.new_state(), ids, all_logits=all_logits)


def test_int8_linear_is_close_to_the_float_product():
    torch.manual_seed(0)
    w, b, x = torch.randn(96, 64) * 0.1, torch.randn(96), torch.randn(5, 7, 64)
    exact = torch.nn.functional.linear(x, w, b)
    got = Int8Linear(w, b)(x)
    assert got.shape == exact.shape and got.dtype == torch.float32
    assert (got - exact).norm() / exact.norm() < 0.02  # 8-bit weights and activations: ~1% error
    assert not torch.equal(got, exact)  # it really is the quantised product


@pytest.mark.parametrize("mode", ["sink", "fam", "bswa"])
def test_int8_engine_tracks_fp32(arch, mode):
    model = tiny_model(arch)
    ids = torch.randint(0, 256, (300,), generator=torch.Generator().manual_seed(1))
    config = MemoryConfig(mode=mode, block_size=64, memory_segments=1)
    exact = read(model, config, ids)
    model._famcli_int8 = True
    assert Engine(model, config).int8
    got = read(model, config, ids)
    assert (got - exact).norm() / exact.norm() < 0.05
    agree = (got.argmax(-1) == exact.argmax(-1)).float().mean()
    assert agree > 0.9


def test_int8_weights_follow_in_place_changes(llama):
    """An adapter merged after the first read changes the weights in place: the int8 copies are rebuilt."""
    llama._famcli_int8 = True
    config = MemoryConfig(mode="sink", block_size=32, memory_segments=1)
    ids = torch.randint(0, 256, (64,), generator=torch.Generator().manual_seed(2))
    before = read(llama, config, ids)
    with torch.no_grad():
        for layer in llama.model.layers:
            layer.self_attn.o_proj.weight.mul_(2.0)
            layer.mlp.up_proj.weight.mul_(0.5)
    after = read(llama, config, ids)
    llama._famcli_int8 = False
    exact = read(llama, config, ids)
    assert (after - exact).norm() / exact.norm() < 0.05 < (before - exact).norm() / exact.norm()
