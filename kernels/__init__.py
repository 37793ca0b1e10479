"""famcli attention kernels: the one dispatch point between the PyTorch path and Triton (CUDA).

This is famcli's own package (`kernels/` in the famcli repository), not Hugging Face's `kernels` hub
package; it exposes no `get_kernel`, so transformers never mistakes it for that one.
"""

from __future__ import annotations

from .reference import block_attention as _reference_block_attention

__all__ = ["block_attention"]


def block_attention(q, k, v, key_valid, causal_start, q_offset, scale):
    """One block step of BSWA + FAM attention; see `kernels/reference.py` for the exact rule."""
    return _reference_block_attention(q, k, v, key_valid, causal_start, q_offset, scale)
