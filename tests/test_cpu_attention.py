"""The CPU attention path against the reference, and the dispatch between backends."""

from __future__ import annotations

import pytest
import torch
from famcli_kernels import cpu_attention
from famcli_kernels.reference import block_attention_naive, visibility

from famcli import kernels


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)], ids=["fp32", "bf16"])
@pytest.mark.parametrize("H,Hkv", [(4, 4), (9, 3), (4, 1)])
@pytest.mark.parametrize("c,S,causal_start,q_offset", [(63, 200, 137, 0), (1, 100, 50, 30), (100, 357, None, 0),
                                                       (257, 600, 300, 0)])
def test_cpu_path_matches_reference(c, S, causal_start, q_offset, H, Hkv, dtype, tol):
    g = torch.Generator().manual_seed(c + S)
    q, k, v = (torch.randn(h, n, 64, generator=g).to(dtype) for h, n in ((H, c), (Hkv, S), (Hkv, S)))
    valid = torch.rand(S, generator=g) < 0.6
    if causal_start is None:
        valid[0] = True  # FAM queries always see the FAM
    bias = cpu_attention.additive_mask(valid, c, causal_start, q_offset, H // Hkv, dtype)
    ours = cpu_attention.block_attention(q, k, v, valid, causal_start, q_offset, 0.125, bias)
    unprepared = cpu_attention.block_attention(q, k, v, valid, causal_start, q_offset, 0.125)
    torch.testing.assert_close(unprepared, ours)
    expected = block_attention_naive(q.float(), k.float(), v.float(), valid, causal_start, q_offset, 0.125)
    assert ((ours.float() - expected).norm() / expected.norm()).item() < tol


@pytest.mark.parametrize("S,c,causal_start,q_offset", [(40, 8, 16, 0), (40, 8, 16, 5), (40, 8, 36, 0), (40, 8, 39, 20),
                                                      (12, 12, 0, 0), (30, 1, 10, 19), (30, 5, None, 0), (9, 4, 9, 0)])
def test_cpu_mask_is_the_reference_rule(S, c, causal_start, q_offset):
    """The CPU mask is built on its own (a lower triangle at the block); it must see exactly what
    reference.visibility lets each query see, the block's end clipped at the buffer included."""
    for seed in range(3):
        valid = torch.rand(S, generator=torch.Generator().manual_seed(seed)) < 0.4
        bias = cpu_attention.additive_mask(valid, c, causal_start, q_offset, 2, torch.float32)
        expected = visibility(valid, c, causal_start, q_offset).repeat(2, 1)
        assert torch.equal(bias == 0, expected)


def test_backend_is_chosen_once_and_can_be_forced(monkeypatch):
    with kernels.force(None):
        assert kernels.backend_for("cpu") == "cpu"
        monkeypatch.setenv("FAMCLI_KERNEL", "reference")  # read once: a later change does not switch
        assert kernels.backend_for("cpu") == "cpu"
        assert kernels.attention_bias(torch.ones(4, dtype=torch.bool), 2, 0, 0, 1, torch.float32) is not None
    with kernels.force("reference"):
        assert kernels.backend_for("cpu") == "reference"
        assert kernels.attention_bias(torch.ones(4, dtype=torch.bool), 2, 0, 0, 1, torch.float32) is None
