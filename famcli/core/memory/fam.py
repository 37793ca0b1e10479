"""Feedback Attention Memory (TransformerFAM, arXiv 2404.09173, Algorithm 2; docs/design.md, sections 3-5).

Per layer l the state holds N FAM vectors F^l (N, d). At the start of block tau they go through layer l's
norm and projections with the block's tokens; their keys sit before the ring at the positions just before
the block, so every block query sees them. At the end of the block the FAM queries (projected at the start,
positioned at the end of the block) attend to the previous FAM and the whole block, never the ring; their
output, through the same o-projection, residual and MLP as the tokens, is F^l_tau: layer l's FAM output for
block tau is layer l's FAM input for block tau+1.

The FAM a document starts with, F^l_{-1}, is each layer's output when the FAM prompt is read alone
(causally). The prompt is the adapter's learned one, else the embeddings of a fixed text (zero-shot, 3.1).

One option goes beyond the paper (MemoryConfig.fam_keep_norm, off unless an adapter was trained with it):
Algorithm 2 adds every block's attention and MLP output to the FAM and takes nothing away, so the FAM's norm
grows with every update (measured with a trained adapter: 1,851 -> 12,272 over 32 blocks in layer 15), past
anything training showed the model. With the option each update is rescaled, vector by vector, to the norm
of the FAM it replaces: no new weights, the same direction (docs/training.md, run 7).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from famcli import kernels
from famcli.common.errors import ConfigError
from famcli.core.memory.base import Memory, MemoryState, zero_shot_prompt
from famcli.core.positions import rotate

PROMPT = "fam_prompt"  # the adapter tensor: the learned prompt, (N, d) at the token-embedding level


@dataclass
class FamState(MemoryState):
    fam: torch.Tensor | None = None  # (L, N, d) F^l_{tau-1}, the FAM the current block reads and updates
    q_fam: torch.Tensor | None = None  # (L, H, N, D) the FAM queries of the current block, kept between chunks


class Fam(Memory):
    trainable = True
    carried = "fam"  # (L, N, d) F^l_{tau-1}, the FAM the current block reads and updates
    within_block = ("q_fam",)  # (L, H, N, D) the FAM queries of the current block, kept between chunks

    @classmethod
    def rows(cls, config) -> int:
        return config.fam_length

    @classmethod
    def check_weights(cls, weights) -> str | None:
        return None if PROMPT in weights else "no FAM prompt"

    def __init__(self, engine, weights=None):
        super().__init__(engine, weights)
        prompt = (weights or {}).get(PROMPT)
        if prompt is not None and (prompt.dim() != 2 or prompt.shape[1] != engine.model.config.hidden_size):
            raise ConfigError(f"the adapter's FAM prompt has shape {tuple(prompt.shape)}; this model needs "
                              f"({self.n_rows}, {engine.model.config.hidden_size})")
        if prompt is not None and prompt.shape[0] != self.n_rows:
            raise ConfigError(f"the adapter's FAM prompt has {prompt.shape[0]} vectors; "
                              f"--fam-length {self.n_rows} does not fit it")
        self.prompt = prompt if prompt is not None else zero_shot_prompt(engine, self.n_rows)
        self._initial = None  # F_{-1}, cached for reading

    # ----- weights and state ---------------------------------------------------------------------

    def initial(self) -> torch.Tensor:
        """F^l_{-1} (L, N, d): computed once for reading; afresh (with gradients where enabled) while the prompt
        learns, since the optimiser changes it in place."""
        if self.prompt.requires_grad:
            return self.engine.run_prompt(self.prompt.to(self.engine.param))
        if self._initial is None:
            with torch.no_grad():
                self._initial = self.engine.run_prompt(self.prompt.to(self.engine.param))
        return self._initial

    def init_state(self) -> FamState:
        e = self.engine
        if not self.n_rows:  # --fam-length 0: FAM off, BSWA alone
            return FamState()
        q = torch.zeros(e.n_layers, e.n_heads, self.n_rows, e.head_dim, dtype=e.param.dtype, device=e.param.device)
        return FamState(self.initial().detach().clone(), q)

    def learnable(self) -> list[torch.Tensor]:
        if not isinstance(self.prompt, torch.nn.Parameter):
            self.prompt = torch.nn.Parameter(self.prompt.detach().float().clone())
        self.prompt.requires_grad_(True)
        return [self.prompt]

    def weights(self, dtype=None) -> dict[str, torch.Tensor]:
        return {PROMPT: self.prompt}  # tiny: always kept exact

    @torch.no_grad()
    def load_weights(self, weights) -> None:
        self.prompt.copy_(weights[PROMPT])
        self._initial = None

    # ----- the block step ------------------------------------------------------------------------

    def prepare(self, state, plan) -> None:
        if not self.n_rows:
            return
        N, B, e = self.n_rows, self.config.block_size, self.engine
        if plan.starts:
            plan.extra["rope_k"] = e.rotary.tables(plan.tau * B - N, N)  # the previous FAM, as keys
            plan.extra["rope_q"] = e.rotary.tables((plan.tau + 1) * B - N, N)  # the FAM being computed
        if plan.completes:
            valid = torch.zeros(plan.used, dtype=torch.bool, device=e.param.device)
            valid[:N] = True
            valid[plan.base: plan.base + B] = True
            plan.extra["fam_valid"] = valid
            plan.extra["fam_bias"] = kernels.attention_bias(valid, N, None, 0, e.n_heads // e.n_kv, e.param.dtype)

    def rows_in(self, l, state, plan):
        return state.mem.fam[l] if plan.starts and self.n_rows else None

    def keep(self, l, state, plan, q, k, v) -> None:
        N = self.n_rows
        state.k[l][:, :N] = rotate(k, *plan.extra["rope_k"])
        state.v[l][:, :N] = v
        state.mem.q_fam[l] = rotate(q, *plan.extra["rope_q"])

    def finish(self, l, layer, state, plan, x, attn, keys, values):
        if not plan.completes or not self.n_rows:
            return self.engine.finish(layer, x, attn), None
        e, fam = self.engine, state.mem.fam[l]
        attn_f = kernels.block_attention(state.mem.q_fam[l], keys, values, plan.extra["fam_valid"], None, 0,
                                         e.scale, plan.extra["fam_bias"])
        residual = torch.zeros_like(fam) if state.updates == 0 and self.config.fam_zero_residual else fam
        out = e.finish(layer, torch.cat([residual, x]), torch.cat([attn_f, attn], dim=1))
        new = out[:self.n_rows]
        if self.config.fam_keep_norm:
            new = keep_norm(new, fam)
        return out[self.n_rows:], new

    def commit(self, state, new) -> None:
        if self.n_rows:
            super().commit(state, new)


def keep_norm(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """`new` (N, d) rescaled row by row to the norms of `old` (computed in fp32: bf16 rounding would drift)."""
    new32 = new.float()
    scale = old.float().norm(dim=-1, keepdim=True) / new32.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    return (new32 * scale).to(new.dtype)
