"""Triton forward kernel for one block step of BSWA + FAM attention (same contract as reference.py).

One program handles BLOCK_M queries of one query head and streams the keys of its key/value head in
BLOCK_N tiles with an online softmax (m_i, l_i, acc). Visibility is computed on the fly from key_valid and
the causal span, so no mask is ever materialised. Any query count and key count work (tiles are masked at
the edges); the head size is padded to a power of two. There is no Triton backward kernel: under autograd
the gradient is the reference's, on a recomputed forward (`TritonAttention` in kernels/__init__.py, which
pairs the two backends).
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

_INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"


@triton.jit
def _block_attention_fwd(
    Q, K, V, VALID, O,
    stride_qh, stride_qm, stride_kh, stride_kn, stride_vh, stride_vn, stride_oh, stride_om,
    n_queries, n_keys, causal_start, q_offset, scale,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, HAS_CAUSAL: tl.constexpr, IEEE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):
    pid_m = tl.program_id(0)
    head = tl.program_id(1)
    kv_head = head // GROUP
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    row_ok = offs_m < n_queries
    d_ok = offs_d < HEAD_DIM
    q = tl.load(Q + head * stride_qh + offs_m[:, None] * stride_qm + offs_d[None, :],
                mask=row_ok[:, None] & d_ok[None, :], other=0.0)
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    last = causal_start + q_offset + offs_m  # last causal key each query may see
    for start_n in range(0, n_keys, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        col_ok = offs_n < n_keys
        k = tl.load(K + kv_head * stride_kh + offs_n[:, None] * stride_kn + offs_d[None, :],
                    mask=col_ok[:, None] & d_ok[None, :], other=0.0)
        v = tl.load(V + kv_head * stride_vh + offs_n[:, None] * stride_vn + offs_d[None, :],
                    mask=col_ok[:, None] & d_ok[None, :], other=0.0)
        valid = tl.load(VALID + offs_n, mask=col_ok, other=0) != 0
        visible = valid[None, :] & row_ok[:, None]
        if HAS_CAUSAL:
            in_span = (offs_n[None, :] >= causal_start) & (offs_n[None, :] <= last[:, None])
            visible = visible | (in_span & col_ok[None, :] & row_ok[:, None])
        if IEEE:  # fp32 inputs, or the interpreter (numpy has no bf16 matmul): exact fp32 products
            qk = tl.dot(q.to(tl.float32), tl.trans(k.to(tl.float32)), input_precision="ieee")
        else:
            qk = tl.dot(q, tl.trans(k))
        qk = tl.where(visible, qk * scale, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(qk, 1))
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows that have seen nothing yet
        p = tl.exp(qk - m_safe[:, None])
        alpha = tl.exp(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, 1)
        if IEEE:
            acc = acc * alpha[:, None] + tl.dot(p, v.to(tl.float32), input_precision="ieee")
        else:
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / tl.where(l_i == 0.0, 1.0, l_i)[:, None]
    tl.store(O + head * stride_oh + offs_m[:, None] * stride_om + offs_d[None, :],
             out.to(O.dtype.element_ty), mask=row_ok[:, None] & d_ok[None, :])


def block_attention_forward(q, k, v, key_valid, causal_start, q_offset, scale, out=None):
    """q (H, c, D), k and v (Hkv, S, D), key_valid (S,) bool -> (H, c, D) via the Triton kernel."""
    H, c, D = q.shape
    Hkv, S, _ = k.shape
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    out = torch.empty_like(q) if out is None else out
    valid = key_valid.to(torch.int8).contiguous()
    BLOCK_M = 64 if c > 32 else 16
    BLOCK_N = 64
    grid = (triton.cdiv(c, BLOCK_M), H)
    _block_attention_fwd[grid](
        q, k, v, valid, out,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        c, S, -1 if causal_start is None else causal_start, q_offset, scale,
        GROUP=H // Hkv, HEAD_DIM=D, HAS_CAUSAL=causal_start is not None, IEEE=q.dtype == torch.float32 or _INTERPRET,
        BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_D=triton.next_power_of_2(max(D, 16)),
    )
    return out


def prepare(key_valid, n_queries, causal_start, q_offset, group, dtype) -> None:
    """Nothing to prepare: visibility is computed inside the kernel."""
    return None


def block_attention(q, k, v, key_valid, causal_start, q_offset, scale, bias=None):
    """The Triton forward alone (no autograd: the dispatch wraps it with the reference's backward)."""
    return block_attention_forward(q, k, v, key_valid, causal_start, q_offset, scale)
