"""Memory replay back-propagation equals full back-propagation through time (design doc section 6)."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine
from famcli.training.mrbp import bptt, cut_blocks, mrbp


def _grads(mode, fam_length, segments, method, seed=0, keep_norm=False):
    model = tiny_model("llama", seed=seed).requires_grad_(True)
    config = MemoryConfig(mode=mode, block_size=8, memory_segments=segments, fam_length=fam_length,
                          fam_keep_norm=keep_norm)
    prompt = torch.nn.Parameter(torch.randn(max(fam_length, 1), 64) * 0.5)
    engine = Engine(model, config, {"fam_prompt": prompt} if fam_length else None)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 256, (45,), generator=g).tolist()  # 5 full blocks and a partial one
    weights = [0.0] * 30 + [1.0] * 15
    weights[3] = 0.5  # a loss far back in the first block too
    blocks = cut_blocks(ids, weights, config.block_size)
    fam0 = engine.memory.initial() if config.rows else None
    loss, fam = method(engine, fam0, blocks)
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    if config.rows:
        grads["prompt"] = prompt.grad.clone()
    return loss, fam, grads


@pytest.mark.parametrize("mode,fam_length,segments,keep_norm", [
    ("fam", 4, 1, False), ("fam", 2, 2, False), ("bswa", 0, 1, False), ("fam", 3, 0, False), ("fam", 4, 1, True)])
def test_mrbp_equals_bptt(mode, fam_length, segments, keep_norm):
    loss_a, fam_a, ga = _grads(mode, fam_length, segments, mrbp, keep_norm=keep_norm)
    loss_b, fam_b, gb = _grads(mode, fam_length, segments, bptt, keep_norm=keep_norm)
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    assert ga.keys() == gb.keys() and len(ga) > 10
    for name in ga:
        assert torch.allclose(ga[name], gb[name], rtol=1e-4, atol=1e-6), name
    if fam_a is not None:
        assert torch.allclose(fam_a, fam_b, atol=1e-5)
    if fam_length:
        assert ga["prompt"].abs().sum() > 0  # the learned prompt receives gradient through 5 FAM updates
    # gradient reached the first block's weights through the memory: embeddings of early tokens move
    assert ga["model.embed_tokens.weight"].abs().sum() > 0


def test_memory_carries_gradient_across_blocks():
    """A loss only in the last block still moves the gradient of tokens read many blocks earlier."""
    model = tiny_model("llama").requires_grad_(True)
    config = MemoryConfig(mode="fam", block_size=8, memory_segments=1, fam_length=4)
    engine = Engine(model, config)
    ids = list(range(1, 42))
    weights = [0.0] * 40 + [1.0]
    blocks = cut_blocks(ids, weights, 8)
    mrbp(engine, engine.memory.initial().detach(), blocks)
    emb = model.model.embed_tokens.weight.grad
    assert emb[1:9].abs().sum() > 0  # block 0 is 4 blocks (beyond the ring) before the loss: FAM carried it
