"""famcli attention kernels: the one dispatch point between the PyTorch path and Triton (CUDA).

`block_attention` picks the Triton kernel for CUDA tensors (when Triton imports) and the PyTorch reference
elsewhere; `FAMCLI_KERNEL=reference|triton` forces one (tests force triton on CPU under TRITON_INTERPRET=1).
Triton is imported lazily, so CPU-only installs never need it.

This is famcli's own package, not Hugging Face's `kernels` hub package: it defines no `__version__` and no
`get_kernel`, so `transformers.utils.is_kernels_available()` stays False with famcli installed.
"""

from __future__ import annotations

import os
from functools import lru_cache

from .reference import block_attention as reference_block_attention

__all__ = ["block_attention", "backend_for"]


@lru_cache(maxsize=None)
def _triton():
    try:
        from . import triton_attention
    except ImportError:
        return None
    return triton_attention


def backend_for(device_type: str) -> str:
    forced = os.environ.get("FAMCLI_KERNEL", "").lower()
    if forced in ("reference", "triton"):
        if forced == "triton" and _triton() is None:
            raise RuntimeError("FAMCLI_KERNEL=triton but Triton cannot be imported (pip install triton)")
        return forced
    return "triton" if device_type == "cuda" and _triton() is not None else "reference"


def block_attention(q, k, v, key_valid, causal_start, q_offset, scale):
    """One block step of BSWA + FAM attention; see `kernels/reference.py` for the exact rule."""
    if backend_for(q.device.type) == "triton":
        return _triton().block_attention(q, k, v, key_valid, causal_start, q_offset, scale)
    return reference_block_attention(q, k, v, key_valid, causal_start, q_offset, scale)
