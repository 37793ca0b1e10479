"""famcli attention kernels: the one dispatch point for one block step of BSWA + FAM attention.

Backends, all with the rule of `reference.py` and one signature,
`block_attention(q, k, v, key_valid, causal_start, q_offset, scale, bias=None)`:
  triton     the Triton kernel, for CUDA tensors (when Triton imports)
  cpu        two batched matrix products and a softmax with a mask built once per block (CPU default)
  reference  scaled_dot_product_attention with an explicit mask: the specification
The backend is chosen once per device type, on first use: `FAMCLI_KERNEL=reference|cpu|triton` forces one;
tests switch with `kernels.force(name)`. Triton is imported lazily, so CPU-only installs never need it.
The derivations (the visibility rule, the masks, the online softmax) are in kernels/README.md.

The kernels themselves live in the repository's top-level `kernels/` folder, which installs and imports as
`famcli_kernels` (setuptools' package-dir in pyproject.toml). The folder has no `__init__.py`: the top-level
import name `kernels` belongs to Hugging Face's hub-kernels distribution, which transformers imports, and a
folder without one never shadows a regular package, even when the checkout is first on the path
(`python -m pytest` from the repository's root).
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache

import torch

from famcli_kernels import cpu_attention, reference

__all__ = ["block_attention", "attention_bias", "backend_for", "force"]
BACKENDS = ("reference", "cpu", "triton")


@lru_cache(maxsize=None)
def _triton():
    try:
        from famcli_kernels import triton_attention
    except ImportError:
        return None
    return triton_attention


@lru_cache(maxsize=None)
def backend_for(device_type: str) -> str:
    """The backend for tensors on this kind of device, decided once (FAMCLI_KERNEL, else the device)."""
    forced = os.environ.get("FAMCLI_KERNEL", "").lower()
    if forced in BACKENDS:
        if forced == "triton" and _triton() is None:
            raise RuntimeError("FAMCLI_KERNEL=triton but Triton cannot be imported (pip install triton)")
        return forced
    if device_type == "cuda":
        return "triton" if _triton() is not None else "reference"
    return "cpu"


@contextlib.contextmanager
def force(backend: str | None):
    """Use `backend` for every device inside the block (None: the default choice), then choose afresh."""
    before = os.environ.get("FAMCLI_KERNEL")
    os.environ["FAMCLI_KERNEL"] = backend or ""
    backend_for.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("FAMCLI_KERNEL", None)
        else:
            os.environ["FAMCLI_KERNEL"] = before
        backend_for.cache_clear()


class TritonAttention(torch.autograd.Function):
    """Forward with Triton; backward recomputes the attention with the PyTorch reference and
    differentiates it (activation recomputation, as MRBP replays a block anyway). The backward therefore
    costs one reference forward+backward per block, and holds that block's c x S scores only transiently."""

    @staticmethod
    def forward(ctx, q, k, v, key_valid, causal_start, q_offset, scale):
        ctx.save_for_backward(q, k, v, key_valid)
        ctx.args = (causal_start, q_offset, scale)
        return _triton().block_attention_forward(q, k, v, key_valid, causal_start, q_offset, scale)

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, key_valid = ctx.saved_tensors
        with torch.enable_grad():
            q_, k_, v_ = (t.detach().requires_grad_(t.requires_grad) for t in (q, k, v))
            out = reference.block_attention(q_, k_, v_, key_valid, *ctx.args)
            inputs = [t for t in (q_, k_, v_) if t.requires_grad]
            grads = iter(torch.autograd.grad(out, inputs, grad_out))
        dq, dk, dv = (next(grads) if t.requires_grad else None for t in (q_, k_, v_))
        return dq, dk, dv, None, None, None, None


def _module(device_type: str):
    backend = backend_for(device_type)
    return _triton() if backend == "triton" else cpu_attention if backend == "cpu" else reference


def attention_bias(key_valid, n_queries, causal_start, q_offset, group, dtype):
    """What one block's queries may see, prepared once for every layer (None where the backend needs none)."""
    return _module(key_valid.device.type).prepare(key_valid, n_queries, causal_start, q_offset, group, dtype)


def block_attention(q, k, v, key_valid, causal_start, q_offset, scale, bias=None):
    """One block step of BSWA + FAM attention: q (H, c, D), k and v (Hkv, S, D) -> (H, c, D); see
    `kernels/reference.py` for the exact rule. `bias` is what `attention_bias` prepared, or None."""
    if backend_for(q.device.type) == "triton" and torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        return TritonAttention.apply(q, k, v, key_valid, causal_start, q_offset, scale)
    return _module(q.device.type).block_attention(q, k, v, key_valid, causal_start, q_offset, scale, bias)
