"""The specification of one block step of BSWA + FAM attention, in plain PyTorch.

Notation: H query heads, Hkv key/value heads (grouped: G = H // Hkv), c queries, S keys, D head size.

Keys live in one buffer per layer (sink | FAM | ring of memory-segment blocks, the current block being one
slot of the ring). Query i sees key j when

    key_valid[j]                                            (sink, FAM, memory segments: no mask inside)
    or causal_start <= j <= causal_start + q_offset + i     (the current block, causally)

Block queries use both terms; FAM queries pass the FAM keys and the whole current block in key_valid and
causal_start=None. Nothing here is O(T^2): the mask is c x S for one block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def visibility(key_valid: torch.Tensor, n_queries: int, causal_start: int | None, q_offset: int) -> torch.Tensor:
    """Boolean (c, S) mask: True where query i may attend key j."""
    mask = key_valid.unsqueeze(0).expand(n_queries, -1)
    if causal_start is None:
        return mask
    j = torch.arange(key_valid.shape[0], device=key_valid.device)
    last = causal_start + q_offset + torch.arange(n_queries, device=key_valid.device)
    return mask | ((j[None, :] >= causal_start) & (j[None, :] <= last[:, None]))


def prepare(key_valid, n_queries, causal_start, q_offset, group, dtype) -> None:
    """Nothing to prepare: the mask is built per call (the specification, not the fast path)."""
    return None


def block_attention(q, k, v, key_valid, causal_start, q_offset, scale, bias=None):
    """q (H, c, D), k and v (Hkv, S, D), key_valid (S,) bool -> (H, c, D); `bias` is not used."""
    H, c, D = q.shape
    Hkv, S, _ = k.shape
    G = H // Hkv
    mask = visibility(key_valid, c, causal_start, q_offset)  # (c, S)
    qg = q.reshape(Hkv, G * c, D)  # (Hkv, G*c, D): the G heads of a group share k and v
    out = F.scaled_dot_product_attention(qg, k, v, attn_mask=mask.repeat(G, 1), scale=scale)
    return out.reshape(H, c, D)


def block_attention_naive(q, k, v, key_valid, causal_start, q_offset, scale, dtype=torch.float32):
    """The same with an explicit softmax computed in `dtype` (float32, or float64 for gradients), for tests."""
    H, c, D = q.shape
    G = H // k.shape[0]
    mask = visibility(key_valid, c, causal_start, q_offset)
    kk = k.to(dtype).repeat_interleave(G, dim=0)  # (H, S, D)
    vv = v.to(dtype).repeat_interleave(G, dim=0)
    scores = torch.einsum("hcd,hsd->hcs", q.to(dtype), kk) * scale
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.einsum("hcs,hsd->hcd", scores.softmax(-1), vv).to(q.dtype)
