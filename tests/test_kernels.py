"""The Triton block-attention kernel against the PyTorch reference (TRITON_INTERPRET=1 on CPU)."""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
triton_attention = pytest.importorskip("famcli_kernels.triton_attention", reason="Triton is not installed")

from famcli_kernels.reference import block_attention_naive  # noqa: E402

from famcli import kernels  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def layout(B: int, m: int, N: int, offset: int, c: int, fam_queries: bool):
    """The engine's buffer [FAM | ring of m+1 slots] at a block whose ring is full; current slot is 1."""
    S = N + (m + 1) * B
    valid = torch.zeros(S, dtype=torch.bool)
    valid[:N] = True
    base = N + 1 * B if m else N
    for j in range(m + 1):
        lo = N + j * B
        if lo != base:
            valid[lo: lo + B] = True
    if fam_queries:  # FAM queries: previous FAM + the whole current block, no causal term
        valid = torch.zeros(S, dtype=torch.bool)
        valid[:N] = True
        valid[base: base + B] = True
        return S, valid.to(DEVICE), None, 0
    return S, valid.to(DEVICE), base, offset


def rel_error(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-6)).item()


SHAPES = [(63, 63, 0, 0), (100, 100, 1, 16), (257, 257, 2, 8), (40, 100, 3, 4), (1, 64, 1, 16), (17, 32, 3, 0)]
CASES = [(*shape, fam) for shape in SHAPES for fam in (False, True) if not (fam and shape[3] == 0)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("H,Hkv", [(4, 4), (9, 3), (4, 1)], ids=lambda x: str(x))
@pytest.mark.parametrize("c,B,m,N,fam_queries", CASES,
                         ids=[f"c{c}-B{B}-m{m}-N{N}-{'fam' if f else 'block'}" for c, B, m, N, f in CASES])
def test_forward_matches_reference(c, B, m, N, fam_queries, H, Hkv, dtype):
    g = torch.Generator().manual_seed(c * 31 + H)
    offset = B - c
    S, valid, causal_start, q_off = layout(B, m, N, offset, c, fam_queries)
    D = 64
    q, k, v = (torch.randn(h, n, D, generator=g).to(DEVICE, dtype) for h, n in ((H, c), (Hkv, S), (Hkv, S)))
    out = torch.full_like(q, float("nan"))  # an unwritten output must fail loudly
    triton_attention.block_attention_forward(q, k, v, valid, causal_start, q_off, D ** -0.5, out=out)
    expected = block_attention_naive(q.float(), k.float(), v.float(), valid, causal_start, q_off, D ** -0.5)
    assert not out.isnan().any()
    assert rel_error(out, expected) < (1e-5 if dtype == torch.float32 else 1e-2)


@pytest.mark.parametrize("c,B,m,N", [(63, 63, 1, 8), (100, 100, 0, 4), (33, 50, 2, 0)], ids=lambda x: str(x))
def test_backward_is_the_reference_on_a_recomputed_forward(c, B, m, N):
    """There is no Triton backward kernel: under autograd the Triton forward is wrapped (kernels.TritonAttention) so
    the gradient is the reference's on a recomputed forward. Checked here: the wrapper is what runs, and
    its gradients equal those of an independent float64 implementation with an explicit softmax."""
    g = torch.Generator().manual_seed(c)
    S, valid, causal_start, q_off = layout(B, m, N, B - c, c, False)
    H, Hkv, D = 6, 2, 32
    tensors = [torch.randn(h, n, D, generator=g, dtype=torch.float64).float().to(DEVICE)
               for h, n in ((H, c), (Hkv, S), (Hkv, S))]
    grad_out = torch.randn(H, c, D, generator=g).to(DEVICE)
    inputs = [t.clone().requires_grad_(True) for t in tensors]
    with kernels.force("triton"):
        out = kernels.block_attention(*inputs, valid, causal_start, q_off, D ** -0.5)
    assert type(out.grad_fn).__name__ == "TritonAttentionBackward"
    out.backward(grad_out)
    exact = [t.double().requires_grad_(True) for t in tensors]
    block_attention_naive(*exact, valid, causal_start, q_off, D ** -0.5, dtype=torch.float64).backward(grad_out.double())
    for ours, theirs in zip(inputs, exact):
        assert rel_error(ours.grad, theirs.grad) < 1e-5


def test_dispatch_picks_cpu_and_triton_by_device_and_can_force_triton():
    with kernels.force(None):
        assert kernels.backend_for("cpu") == "cpu"
        assert kernels.backend_for("cuda") == "triton"
    with kernels.force("triton"):
        assert kernels.backend_for("cpu") == "triton"


def test_engine_through_triton_equals_reference():
    """The whole engine on a tiny model with the kernel forced gives the reference logits."""
    from conftest import tiny_model

    from famcli.core.config import MemoryConfig
    from famcli.core.engine import Engine

    model = tiny_model("llama").to(DEVICE)
    ids = torch.randint(0, 256, (150,), generator=torch.Generator().manual_seed(0)).to(DEVICE)
    engine = Engine(model, MemoryConfig(mode="fam", block_size=32, memory_segments=1, fam_length=4))
    with kernels.force("reference"):
        expected = engine.feed(engine.new_state(), ids, all_logits=True)
    with kernels.force("triton"):
        got = engine.feed(engine.new_state(), ids, all_logits=True)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
