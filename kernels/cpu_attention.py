"""The CPU path: the same rule as reference.py, as two batched matrix products and a softmax.

On two cores, scaled_dot_product_attention with a mask takes its math path and spends most of its time
building and checking masks; here the caller builds the additive mask once per block (`additive_mask`) and
every layer reuses it, the G query heads of a group ride in one matrix product with their key/value head,
and nothing is copied: keys and values are read in place from the state's buffer.
"""

from __future__ import annotations

import torch

from .reference import visibility


def additive_mask(key_valid, n_queries, causal_start, q_offset, group: int, dtype) -> torch.Tensor:
    """(G*c, S) tensor of 0 where visible and -inf elsewhere, rows ordered like q.reshape(Hkv, G*c, D)."""
    mask = visibility(key_valid, n_queries, causal_start, q_offset)
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, float("-inf"))
    return bias.repeat(group, 1)


def prepare(key_valid, n_queries, causal_start, q_offset, group: int, dtype) -> torch.Tensor:
    return additive_mask(key_valid, n_queries, causal_start, q_offset, group, dtype)


def block_attention(q, k, v, key_valid, causal_start, q_offset, scale, bias=None):
    """q (H, c, D), k and v (Hkv, S, D) -> (H, c, D); `bias` (G*c, S) from additive_mask, built here if None."""
    H, c, D = q.shape
    if bias is None:
        bias = additive_mask(key_valid, c, causal_start, q_offset, H // k.shape[0], q.dtype)
    Hkv = k.shape[0]
    qg = q.reshape(Hkv, H // Hkv * c, D)  # (Hkv, G*c, D)
    scores = torch.baddbmm(bias, qg, k.transpose(1, 2), alpha=scale)  # (Hkv, G*c, S)
    return torch.bmm(scores.softmax(-1), v).reshape(H, c, D)
