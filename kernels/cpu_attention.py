"""The CPU path: the rule of reference.py, built on its own, through torch's fused CPU attention.

The mask is a second, independent construction of the visibility rule (the causal band as a lower
triangle placed at the current block), so the tests that compare this path with the reference check the
rule twice, as they do for the Triton kernel, which computes it inside the kernel.

The caller builds the additive mask once per block (`additive_mask`) and every layer reuses it; the G query
heads of a group ride as one head of G*c rows with their key/value head (no key or value is repeated or
copied: they are read in place from the state's buffer), and the 4-D batch-of-one layout lets
scaled_dot_product_attention take its fused (flash) CPU kernel. With 3-D inputs it takes the math path,
which holds the whole score matrix: measured on 2 cores, the fused kernel is 1.4-4x faster than two batched
matrix products and a softmax (1 query over 3,000 keys: 0.14 vs 0.44 ms a layer; a 2,048-token block over
3,000 keys: 22 vs 89 ms, bf16; kernels/README.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def additive_mask(key_valid, n_queries, causal_start, q_offset, group: int, dtype) -> torch.Tensor:
    """(G*c, S) tensor of 0 where visible and -inf elsewhere, rows ordered like q.reshape(Hkv, G*c, D)."""
    visible = key_valid.unsqueeze(0).repeat(n_queries, 1)
    if causal_start is not None:  # query i sees the block's keys 0 .. q_offset + i: a lower triangle
        width = max(0, min(key_valid.shape[0] - causal_start, q_offset + n_queries))
        band = torch.ones(n_queries, width, dtype=torch.bool, device=key_valid.device).tril(q_offset)
        visible[:, causal_start:causal_start + width] |= band
    return bias_of(visible, group, dtype)


def bias_of(mask: torch.Tensor, group: int, dtype) -> torch.Tensor:
    """A (c, S) visibility mask as the (G*c, S) additive bias `grouped_attention` takes."""
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, float("-inf"))
    return bias.repeat(group, 1)


def prepare(key_valid, n_queries, causal_start, q_offset, group: int, dtype) -> torch.Tensor:
    return additive_mask(key_valid, n_queries, causal_start, q_offset, group, dtype)


def block_attention(q, k, v, key_valid, causal_start, q_offset, scale, bias=None):
    """q (H, c, D), k and v (Hkv, S, D) -> (H, c, D); `bias` (G*c, S) from additive_mask, built here if None."""
    H, c, D = q.shape
    if bias is None:
        bias = additive_mask(key_valid, c, causal_start, q_offset, H // k.shape[0], q.dtype)
    return grouped_attention(q, k, v, bias, scale)


def grouped_attention(q, k, v, bias, scale):
    """q (H, c, D), k and v (Hkv, S, D), bias (G*c, S) -> (H, c, D): a group's heads as one head of G*c rows,
    4-D so torch takes its fused kernel."""
    H, c, D = q.shape
    qg = q.reshape(1, k.shape[0], H // k.shape[0] * c, D)
    return F.scaled_dot_product_attention(qg, k[None], v[None], attn_mask=bias, scale=scale).reshape(H, c, D)
