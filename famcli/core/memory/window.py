"""Memories without learned weights: the plain model's window, BSWA, and BSWA with attention sinks.

    full  the ring holds the whole context window, so every token sees every earlier one (the plain
          model; it cannot read past the window)
    bswa  block sliding window attention: a block sees itself (causally) and the m blocks before it
    sink  bswa + the first S tokens, kept forever (StreamingLLM, arXiv 2309.17453). Their keys are kept
          unrotated and rotated afresh at the start of each block to sit just before the window, as
          StreamingLLM re-indexes its cache (famcli.core.positions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from famcli.common.errors import ConfigError
from famcli.core.memory.base import Memory, MemoryState
from famcli.core.positions import rotate


class Bswa(Memory):
    """Block sliding window attention: nothing beyond the ring."""

    @classmethod
    def rows(cls, config) -> int:
        return 0

    def init_state(self) -> MemoryState:
        return MemoryState()


class Full(Bswa):
    """The plain model: a ring as long as the context window."""

    @classmethod
    def ring_blocks(cls, config, context_window: int) -> int:
        return math.ceil(context_window / config.block_size)

    @classmethod
    def max_tokens(cls, config, context_window: int) -> int | None:
        return context_window

    @classmethod
    def check_against(cls, config, context_window: int) -> None:
        """The window is the model's own: nothing to check."""


@dataclass
class SinkState(MemoryState):
    sink_raw: torch.Tensor  # (L, Hkv, S, D) the first tokens' keys before rotation


class Sink(Memory):
    """BSWA + the first `sink_tokens` tokens (S), visible once they have left the window."""

    within_block = ("sink_raw",)

    @classmethod
    def validate(cls, config) -> None:
        if config.sink_tokens < 1:
            raise ConfigError("sink-tokens must be at least 1 in mode sink")
        if config.sink_tokens > config.block_size:
            raise ConfigError("sink-tokens must not exceed block-size")

    @classmethod
    def rows(cls, config) -> int:
        return config.sink_tokens

    def init_state(self) -> SinkState:
        e = self.engine
        return SinkState(torch.zeros(e.n_layers, e.n_kv, self.n_rows, e.head_dim, dtype=e.param.dtype,
                                     device=e.param.device))

    def head_visible(self, tau: int) -> bool:
        return tau > self.engine.lookback  # before that the first tokens are still in the window

    def begin(self, state, plan) -> None:
        """Rotate the kept first tokens to the positions just before the window."""
        if plan.offset or not self.head_visible(plan.tau):
            return
        S = self.n_rows
        window_start = (plan.tau - self.engine.lookback) * self.config.block_size
        cos, sin = self.engine.rotary.tables(window_start - S, S)
        for l in range(self.engine.n_layers):
            state.k[l][:, :S] = rotate(state.mem.sink_raw[l], cos, sin)

    def observe(self, l: int, state, plan, k, v) -> None:
        first = min(self.n_rows - state.n_tokens, plan.c)
        if first > 0:
            at = state.n_tokens
            state.mem.sink_raw[l][:, at: at + first] = k[:, :first]
            state.v[l][:, at: at + first] = v[:, :first]  # values need no rotation
