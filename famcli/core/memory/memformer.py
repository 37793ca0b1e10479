"""Memformer slot memory (Wu et al., arXiv 2010.06891; docs/design.md, section 7) on a pretrained decoder.

Per layer l the state holds K slots S^l (K, d). Reading costs no new weights: at the start of a block the
slots go through the layer's own norm and key/value projections and sit in the key/value buffer where
FAM keys would (positions just before the block), so the block's queries attend to them alongside the
ring buffer, like cross-attention sharing one softmax with self-attention.

Writing is the new part, and every weight here is learned by `famcli train --memory memformer` (MRBP):

    u_i   = rms(S_i)                     slot, unit root-mean-square (no weight)
    h_j   = rms(X_j)                     layer l's output for block token j
    q_i   = u_i Wq ,  k_j = h_j Wk ,  k'_i = u_i Wk                       (d -> Dw)
    a_i   = softmax over [k'_i, k_1..k_B] of q_i . k / (sqrt(Dw) * T)     the slot sees itself and the
    c_i   = a_i . [u_i, h_1..h_B]                                          block, never other slots
    g_i   = sigmoid([u_i, c_i] . w_g + b_g)                               forgetting gate, one per slot
    S_i  <- (1 - g_i) S_i + g_i c_i

T = exp(log_temp) < 1 sharpens (Memformer's temperature). Slots are convex combinations of unit-RMS
vectors, so |S_i| <= max(|S_i at start|, sqrt(d)) after any number of blocks: bounded by construction
(Memformer bounds them with biased memory normalisation; a convex gated update is the same guarantee
without a separate step). The softmax over the block runs online (running max, sum, weighted sum), so a
block read in many chunks, as in generation, updates the slots exactly as one read at once.

Where this departs from the paper: the reader reuses the decoder's attention instead of separate
cross-attention layers (so a model starts with something it can read), and the slots are per layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from famcli.common.errors import AdapterError, ConfigError
from famcli.core.memory.base import Memory, MemoryState, zero_shot_prompt
from famcli.core.positions import rotate

WRITER_DIM = 64
TEMPERATURE = 0.5  # initial sharpening
GATE_BIAS = -1.0  # initial g = 0.27: a slot keeps about three quarters of itself per block
PARAMS = ("wq", "wk", "log_temp", "gate_w", "gate_b", "init_slots")
PREFIX = "memformer."  # adapter tensors: memformer.<name> for every name in PARAMS


def rms(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


class SlotWriter(torch.nn.Module):
    """All of Memformer's new weights for L layers of width d with K slots (fp32)."""

    def __init__(self, n_layers: int, hidden: int, n_slots: int, dim: int = WRITER_DIM):
        super().__init__()
        L, d, K = n_layers, hidden, n_slots
        self.wq = torch.nn.Parameter(torch.zeros(L, d, dim))
        self.wk = torch.nn.Parameter(torch.zeros(L, d, dim))
        self.log_temp = torch.nn.Parameter(torch.full((L,), math.log(TEMPERATURE)))
        self.gate_w = torch.nn.Parameter(torch.zeros(L, 2 * d))
        self.gate_b = torch.nn.Parameter(torch.full((L,), GATE_BIAS))
        self.init_slots = torch.nn.Parameter(torch.zeros(L, K, d))

    @classmethod
    def initial(cls, initial_slots: torch.Tensor, dim: int = WRITER_DIM, seed: int = 0) -> "SlotWriter":
        """An untrained writer: random (seeded, so every run is the same) projections whose scores have
        unit spread, a closed-ish gate, and the given (L, K, d) initial slots (famcli uses the model's
        reading of a fixed text, as for zero-shot FAM)."""
        L, K, d = initial_slots.shape
        writer = cls(L, d, K, dim)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            writer.wq.copy_(torch.randn(L, d, dim, generator=g) / math.sqrt(d))
            writer.wk.copy_(torch.randn(L, d, dim, generator=g) / math.sqrt(d))
            writer.init_slots.copy_(rms(initial_slots.float()))
        return writer.requires_grad_(False)  # training turns gradients on for what it learns

    @property
    def n_slots(self) -> int:
        return self.init_slots.shape[1]

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in PARAMS}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> "SlotWriter":
        L, K, d = tensors["init_slots"].shape
        writer = cls(L, d, K, tensors["wq"].shape[-1])
        with torch.no_grad():
            for name in PARAMS:
                if tuple(tensors[name].shape) != tuple(getattr(writer, name).shape):
                    raise ValueError(f"memformer weight {name} has shape {tuple(tensors[name].shape)}, "
                                     f"expected {tuple(getattr(writer, name).shape)}")
                getattr(writer, name).copy_(tensors[name].float())
        return writer.requires_grad_(False)

    # ----- the write, per layer ----------------------------------------------------------------

    def _query(self, l: int, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = rms(slots.float())
        scale = torch.exp(-self.log_temp[l]) / math.sqrt(self.wq.shape[-1])
        return (u @ self.wq[l]) * scale, u

    def accumulate(self, l: int, slots: torch.Tensor, x: torch.Tensor, acc: tuple | None) -> tuple:
        """Fold block tokens x (c, d) into the running softmax of each slot; acc is (max (K,), sum (K,),
        weighted values (K, d)) or None at the start of a block."""
        q, _ = self._query(l, slots)
        h = rms(x.float())
        scores = q @ (h @ self.wk[l]).T  # (K, c)
        top = scores.max(dim=1).values
        if acc is not None:
            top = torch.maximum(top, acc[0])
        p = torch.exp(scores - top[:, None])
        total, weighted = p.sum(1), p @ h
        if acc is not None:
            keep = torch.exp(acc[0] - top)
            total, weighted = total + keep * acc[1], weighted + keep[:, None] * acc[2]
        return top, total, weighted

    def update(self, l: int, slots: torch.Tensor, acc: tuple) -> torch.Tensor:
        """The slots after the block: add each slot's own term to the softmax, then the gated update."""
        q, u = self._query(l, slots)
        own = (q * (u @ self.wk[l])).sum(-1)  # (K,)
        top = torch.maximum(own, acc[0])
        keep, mine = torch.exp(acc[0] - top), torch.exp(own - top)
        content = (keep[:, None] * acc[2] + mine[:, None] * u) / (keep * acc[1] + mine)[:, None]
        gate = torch.sigmoid(torch.cat([u, content], -1) @ self.gate_w[l] + self.gate_b[l])[:, None]
        return (1 - gate) * slots.float() + gate * content


@dataclass
class MemformerState(MemoryState):
    slots: torch.Tensor  # (L, K, d) fp32, the slots the current block reads
    w_max: torch.Tensor  # (L, K) the writer's running softmax over the current block: its maximum,
    w_sum: torch.Tensor  # (L, K) its sum
    w_acc: torch.Tensor  # (L, K, d) and the weighted outputs


class Memformer(Memory):
    """K slots per layer, read where FAM keys would be, written by the learned SlotWriter at each block's end."""

    trainable = True
    carried = "slots"  # (L, K, d) fp32, the slots the current block reads
    within_block = ("w_max", "w_sum", "w_acc")  # the writer's running softmax over the current block
    fp32 = ("slots", "w_max", "w_sum", "w_acc")
    length_option = "--slots"
    length_name = "slots"
    untrained = "a seeded, untrained writer"

    @classmethod
    def validate(cls, config) -> None:
        if config.fam_length < 1:
            raise ConfigError("memformer needs at least 1 slot (--slots)")

    @classmethod
    def rows(cls, config) -> int:
        return config.fam_length

    @classmethod
    def check_weights(cls, weights) -> str | None:
        return None if PREFIX + "init_slots" in weights else "no memformer slots"

    def __init__(self, engine, weights=None):
        super().__init__(engine, weights)
        K, L = self.n_rows, engine.n_layers
        if weights:
            self.writer = _writer_from(weights)
        else:  # untrained: seeded projections, slots from the model's reading of a fixed text
            with torch.no_grad():
                self.writer = SlotWriter.initial(engine.run_prompt(zero_shot_prompt(engine, K).to(engine.param)))
        if self.writer.n_slots != K or self.writer.init_slots.shape[0] != L:
            raise ConfigError(f"the memformer writer has {self.writer.n_slots} slots for "
                              f"{self.writer.init_slots.shape[0]} layers; --slots {K} for {L} layers "
                              "does not fit it")
        d = engine.model.config.hidden_size
        want = SlotWriter(L, d, K, self.writer.wq.shape[-1]).tensors()
        for name, t in self.writer.tensors().items():
            if name in want and t.shape != want[name].shape:
                raise ConfigError(f"the memformer writer's {name} has shape {tuple(t.shape)}; this model needs "
                                  f"{tuple(want[name].shape)}")
        self.writer.to(engine.param.device)

    # ----- weights and state ---------------------------------------------------------------------

    def initial(self) -> torch.Tensor:
        return self.writer.init_slots

    def init_state(self) -> MemformerState:
        e, K = self.engine, self.n_rows
        f32 = {"dtype": torch.float32, "device": e.param.device}
        return MemformerState(self.writer.init_slots.detach().to(**f32).clone(), torch.zeros(e.n_layers, K, **f32),
                              torch.zeros(e.n_layers, K, **f32), torch.zeros(e.n_layers, K, e.hidden, **f32))

    def learnable(self) -> list[torch.Tensor]:
        return list(self.writer.requires_grad_(True).parameters())

    def weights(self, dtype=None) -> dict[str, torch.Tensor]:
        """With a dtype: the projections in it (like the LoRA), the small rest and the slots exact."""
        out = {}
        for name, t in self.writer.tensors().items():
            keep = torch.float32 if dtype is None or t.dim() < 3 or name == "init_slots" else dtype
            out[PREFIX + name] = t.detach().to(keep) if dtype is not None else t
        return out

    @torch.no_grad()
    def load_weights(self, weights) -> None:
        for name, t in weights.items():
            getattr(self.writer, name[len(PREFIX):]).copy_(t)

    # ----- the block step ------------------------------------------------------------------------

    def prepare(self, state, plan) -> None:
        if plan.starts:
            K = self.n_rows
            plan.extra["rope_k"] = self.engine.rotary.tables(plan.tau * self.config.block_size - K, K)

    def rows_in(self, l, state, plan):
        return state.mem.slots[l].to(self.engine.param.dtype) if plan.starts else None

    def keep(self, l, state, plan, q, k, v) -> None:
        state.k[l][:, :self.n_rows] = rotate(k, *plan.extra["rope_k"])
        state.v[l][:, :self.n_rows] = v

    def finish(self, l, layer, state, plan, x, attn, keys, values):
        """Fold the chunk's outputs into the slots' running softmax; at the end of the block, the new slots."""
        out, m = self.engine.finish(layer, x, attn), state.mem
        acc = None if plan.offset == 0 else (m.w_max[l], m.w_sum[l], m.w_acc[l])
        acc = self.writer.accumulate(l, m.slots[l], out, acc)
        if not plan.completes:
            m.w_max[l], m.w_sum[l], m.w_acc[l] = acc
            return out, None
        return out, self.writer.update(l, m.slots[l], acc)


def _writer_from(weights: dict[str, torch.Tensor]) -> SlotWriter:
    try:
        return SlotWriter.from_tensors({n[len(PREFIX):]: t for n, t in weights.items() if n.startswith(PREFIX)})
    except (KeyError, ValueError) as exc:
        raise AdapterError(f"damaged memformer weights ({exc})") from exc
