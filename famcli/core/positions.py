"""Rotary positions for the engine (docs/design.md, section 3.2).

famcli keeps absolute token positions but computes every rotation angle in float64, so a key written at
position 1,000,000 and a query at 1,000,100 see exactly the rotation a key at 0 and a query at 100 see:
RoPE depends only on the difference, which the window bounds. This is the re-basing docs/design.md (section
3.2) describes, without re-rotating the ring buffer every block; sink tokens, which outlive the window, are kept
unrotated and rotated afresh to sit just before the window (as StreamingLLM re-indexes its cache).
"""

from __future__ import annotations

import torch


class Rotary:
    """cos/sin tables for arbitrary (even huge) positions, using the model's own inverse frequencies."""

    def __init__(self, model, dtype: torch.dtype, device: torch.device):
        rotary = model.model.rotary_emb
        self.inv_freq = rotary.inv_freq.detach().to(device=device, dtype=torch.float64)
        self.scaling = float(getattr(rotary, "attention_scaling", 1.0))
        self.dtype = dtype
        self.device = device

    def tables(self, start: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin), each (count, D), for positions start .. start+count-1."""
        pos = torch.arange(start, start + count, device=self.device, dtype=torch.float64)
        freqs = pos[:, None] * self.inv_freq[None, :]  # (count, D/2), exact in float64
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * self.scaling).to(self.dtype), (emb.sin() * self.scaling).to(self.dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (heads, count, D) rotated by (count, D) tables, HF's rotate_half convention."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin
