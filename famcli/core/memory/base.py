"""The protocol every memory follows, and the plan of one block step that the engine hands to it.

The engine reads a chunk of c <= B tokens of the current block tau through every layer. Per layer it
calls the memory at four points, and the memory owns what happens there:

    rows_in(l)        rows read with the block's tokens through the layer's norm and projections
                      (FAM vectors, Memformer slots) at the start of a block, or None
    keep(l, q, k, v)  what to do with those rows' projections (write their keys where the block sees them)
    observe(l, k, v)  the block tokens' keys before rotation (sink tokens are captured here)
    finish(l, ...)    the layer's output for the block and, when the block completes, the memory's new
                      value for layer l (the FAM update, the slot write), or None

and once per chunk `begin` (before the layers) and `commit` (after them, when the block is complete).
Like transformers' cache layers and gpt-fast's `KVCache.update`, the state object owns its update: the
memory's tensors live in `state.mem`, a `MemoryState` dataclass the memory declares with one field per tensor,
so saving, cloning and memory replay back-propagation (famcli.training.mrbp) work for any memory without knowing
which it is. A memory must say how many rows it keeps (`rows`) and what state it starts from (`init_state`);
a hook it does not override does what plain BSWA does there (nothing, or the layer's own output).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch

from famcli.common.errors import ConfigError


@dataclass
class Plan:
    """Where one chunk of the current block sits, computed once and shared by every layer."""

    tau: int  # block index
    offset: int  # tokens of block tau read before this chunk
    c: int  # tokens in this chunk
    base: int  # buffer row where block tau starts
    used: int  # buffer rows that may hold keys
    valid: torch.Tensor  # (used,) keys visible to every query of the chunk (memory rows, ring)
    starts: bool  # the chunk starts its block
    completes: bool  # the chunk ends its block
    rope: tuple  # (cos, sin) of the chunk's tokens
    bias: torch.Tensor | None  # the chunk queries' attention mask, prepared once for every layer
    extra: dict = field(default_factory=dict)  # what the memory prepared for its own hooks
    ids: torch.Tensor | None = None  # the chunk's token ids


@dataclass
class MemoryState:
    """A memory's own tensors in the reading state (`State.mem`). Each memory declares a subclass with one field
    per tensor, named as the state file names it (`FamState.fam`); a field is None where the memory does not use
    it at this size. Fields hold a tensor, or a list of per-layer tensors while training (famcli.training.mrbp)."""

    def tensors(self) -> dict[str, Any]:
        """Field name -> tensor, the unused (None) left out."""
        return {f.name: value for f in dataclasses.fields(self) if (value := getattr(self, f.name)) is not None}

    def with_tensors(self, **tensors) -> MemoryState:
        """A copy with these fields replaced (the others shared)."""
        return dataclasses.replace(self, **tensors)

    def clone(self) -> MemoryState:
        return self.with_tensors(**{name: t.clone() for name, t in self.tensors().items()})


class Memory(ABC):
    """One memory mode. Class attributes describe it; class methods check a configuration before any model
    exists; an instance serves one engine. `carried`, `within_block` and `fp32` name fields of its state."""

    trainable = False  # has learned weights of its own (adapters, `famcli train`)
    carried: str | None = None  # the state tensor handed from block to block; MRBP differentiates through it
    within_block: tuple[str, ...] = ()  # per-layer state tensors carried between chunks of one block
    fp32: tuple[str, ...] = ()  # state tensors kept in fp32 whatever the model's dtype
    length_option = "--fam-length"  # the option that sets `fam_length` for this memory, in messages
    length_name = "fam_length"  # what `fam_length` is called in this memory's summaries (famcli info, --json)
    untrained = "a zero-shot FAM"  # what reads when no adapter trained this memory
    defaults: dict = {}  # MemoryConfig fields this mode sets when the options do not (models.runtime.resolve)

    # ----- configuration -------------------------------------------------------------------------

    @classmethod
    def validate(cls, config) -> None:
        """Refuse sizes this memory cannot work with (ConfigError)."""

    @classmethod
    @abstractmethod
    def rows(cls, config) -> int:
        """Key/value rows this memory keeps before the ring buffer, per layer."""

    @classmethod
    def ring_blocks(cls, config, context_window: int) -> int:
        """Blocks in the ring buffer: the current one and the previous ones each layer keeps."""
        return config.memory_segments + 1

    @classmethod
    def max_tokens(cls, config, context_window: int) -> int | None:
        """Most tokens a document may have (None: no limit)."""
        return None

    @classmethod
    def check_against(cls, config, context_window: int) -> None:
        """Refuse sizes that push relative positions past what the model was trained on."""
        span = config.window + cls.rows(config)
        if span > context_window:
            raise ConfigError(
                f"block-size x (memory-segments + 1) + fam/sink = {span} tokens exceeds the model's "
                f"context window of {context_window}; use a smaller --block-size or --memory-segments"
            )

    @classmethod
    def check_weights(cls, weights: dict[str, torch.Tensor]) -> str | None:
        """What is missing from an adapter file's memory tensors, or None when they are complete."""
        return None

    # ----- one engine ----------------------------------------------------------------------------

    def __init__(self, engine, weights: dict[str, torch.Tensor] | None = None):
        self.engine = engine
        self.config = engine.config
        self.n_rows = self.rows(self.config)

    @abstractmethod
    def init_state(self) -> MemoryState:
        """This memory's tensors in a fresh state."""

    def initial(self) -> torch.Tensor | None:
        """The carried memory at the start of a document (with gradients when its weights learn)."""
        return None

    def learnable(self) -> list[torch.Tensor]:
        """Turn on gradients for this memory's own weights and return them (training)."""
        return []

    def weights(self) -> dict[str, torch.Tensor]:
        """The memory's learned weights as an adapter file names them."""
        return {}

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Copy learned weights (from an adapter or a checkpoint) into this memory's own tensors."""

    def question(self, state, ids: list[int]) -> None:
        """The question the document will be asked, known before it is read (token ids): a memory that
        chooses what to keep by it stores it in its state (`state.mem`)."""

    # ----- the block step ------------------------------------------------------------------------

    def head_visible(self, tau: int) -> bool:
        """Whether the block's queries see this memory's rows."""
        return True

    def prepare(self, state, plan: Plan) -> None:
        """Add what the hooks need for this chunk to `plan.extra` (positions, masks)."""

    def begin(self, state, plan: Plan) -> None:
        """Before the layers run."""

    def rows_in(self, l: int, state, plan: Plan) -> torch.Tensor | None:
        return None

    def keep(self, l: int, state, plan: Plan, q, k, v) -> None:
        """The projections of `rows_in`'s rows: q (H, r, D), k and v (Hkv, r, D), not rotated."""

    def observe(self, l: int, state, plan: Plan, k, v) -> None:
        """The chunk tokens' keys (before rotation) and values, (Hkv, c, D)."""

    def finish(self, l: int, layer, state, plan: Plan, x, attn, keys, values):
        """Layer l's output for the chunk (c, d) from its input x and attention output attn (H, c, D);
        with the memory's new value for layer l when the block completes, else None."""
        return self.engine.finish(layer, x, attn), None

    def commit(self, state, new: list) -> None:
        """The block is complete: `new` holds what `finish` returned for every layer."""
        if self.carried is not None:
            setattr(state.mem, self.carried, torch.stack(new))
            state.updates += 1


def zero_shot_prompt(engine, n: int) -> torch.Tensor:
    """(n, d) fp32 embeddings of a fixed text, repeated to n rows: the untrained memory's starting rows
    (docs/design.md, section 3.1)."""
    ids = engine.prompt_ids or list(range(1, n + 1))
    ids = [ids[i % len(ids)] for i in range(n)]
    with torch.no_grad():
        return engine.model.model.embed_tokens(torch.tensor(ids, dtype=torch.long, device=engine.param.device)).float()
