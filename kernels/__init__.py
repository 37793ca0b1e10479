"""famcli attention kernels: the one dispatch point for one block step of BSWA + FAM attention.

Backends, all with the rule of `reference.py`:
  triton     the Triton kernel, for CUDA tensors (when Triton imports)
  cpu        two batched matrix products and a softmax with a mask built once per block (CPU default)
  reference  scaled_dot_product_attention with an explicit mask: the specification
`FAMCLI_KERNEL=reference|cpu|triton` forces one (tests force triton on CPU under TRITON_INTERPRET=1).
Triton is imported lazily, so CPU-only installs never need it.

This is famcli's own package, not Hugging Face's `kernels` hub package: it defines no `__version__` and no
`get_kernel`, so `transformers.utils.is_kernels_available()` stays False with famcli installed.
"""

from __future__ import annotations

import os
from functools import lru_cache

from . import cpu_attention
from .reference import block_attention as reference_block_attention

__all__ = ["block_attention", "attention_bias", "backend_for"]
BACKENDS = ("reference", "cpu", "triton")


@lru_cache(maxsize=None)
def _triton():
    try:
        from . import triton_attention
    except ImportError:
        return None
    return triton_attention


def backend_for(device_type: str) -> str:
    forced = os.environ.get("FAMCLI_KERNEL", "").lower()
    if forced in BACKENDS:
        if forced == "triton" and _triton() is None:
            raise RuntimeError("FAMCLI_KERNEL=triton but Triton cannot be imported (pip install triton)")
        return forced
    if device_type == "cuda":
        return "triton" if _triton() is not None else "reference"
    return "cpu"


def attention_bias(key_valid, n_queries, causal_start, q_offset, group, dtype):
    """What one block's queries may see, prepared once for every layer (None where the backend needs none)."""
    if backend_for(key_valid.device.type) != "cpu":
        return None
    return cpu_attention.additive_mask(key_valid, n_queries, causal_start, q_offset, group, dtype)


def block_attention(q, k, v, key_valid, causal_start, q_offset, scale, bias=None):
    """One block step of BSWA + FAM attention; see `kernels/reference.py` for the exact rule."""
    backend = backend_for(q.device.type)
    if backend == "triton":
        return _triton().block_attention(q, k, v, key_valid, causal_start, q_offset, scale)
    if backend == "cpu":
        if bias is None:
            bias = cpu_attention.additive_mask(key_valid, q.shape[1], causal_start, q_offset,
                                               q.shape[0] // k.shape[0], q.dtype)
        return cpu_attention.block_attention(q, k, v, scale, bias)
    return reference_block_attention(q, k, v, key_valid, causal_start, q_offset, scale)
