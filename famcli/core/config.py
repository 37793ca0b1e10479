"""The frozen memory configuration shared by the engine, the CLI and adapters (docs/design.md, section 4)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from famcli.common.errors import ConfigError
from famcli.common.limits import MAX_BLOCK_SIZE, MAX_FAM_LENGTH, MAX_MEMORY_SEGMENTS

ZERO_SHOT = "fam-zero-shot"  # a --memory label for side-by-side tables: mode fam with no adapter


@dataclass(frozen=True)
class MemoryConfig:
    """How a document is cut into blocks and what each block may see.

    mode             full | sink | bswa | fam | memformer (see docs/design.md, section 4)
    block_size       B, tokens per block
    memory_segments  m, previous blocks kept per layer (ring buffer)
    fam_length       memory vectors per layer: N FAM vectors (mode fam; 0 turns FAM off) or K slots
                     (mode memformer, docs/design.md, section 7; `--slots` on the command line)
    sink_tokens      first tokens kept forever (mode sink only, StreamingLLM)
    fam_zero_residual  first FAM update uses a zero residual (paper, Algorithm 2)
    fam_keep_norm    each FAM update is rescaled, vector by vector, to the norm of the FAM it replaces, so
                     the memory's size stays that of the initial FAM however many blocks are read (a
                     famcli addition, off by default: see famcli.core.memory.fam)
    """

    mode: str = "fam"
    block_size: int = 256
    memory_segments: int = 1
    fam_length: int = 16
    sink_tokens: int = 4
    fam_zero_residual: bool = False
    fam_keep_norm: bool = False

    def __post_init__(self):
        from famcli.core.memory import memory_class, modes

        if self.mode not in modes():
            raise ConfigError(f"unknown memory mode {self.mode!r} (choose one of {', '.join(modes())})")
        for name in ("block_size", "memory_segments", "fam_length", "sink_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{name.replace('_', '-')} must be an integer, got {value!r}")
        if self.block_size < 1:
            raise ConfigError(f"block-size must be at least 1, got {self.block_size}")
        if self.memory_segments < 0:
            raise ConfigError(f"memory-segments must be 0 or more, got {self.memory_segments}")
        if self.fam_length < 0 or self.sink_tokens < 0:
            raise ConfigError("fam-length and sink-tokens must not be negative")
        for name, most in (("block_size", MAX_BLOCK_SIZE), ("memory_segments", MAX_MEMORY_SEGMENTS),
                           ("fam_length", MAX_FAM_LENGTH), ("sink_tokens", MAX_BLOCK_SIZE)):
            if getattr(self, name) > most:
                raise ConfigError(f"{name.replace('_', '-')} {getattr(self, name):,} is past famcli's limit "
                                  f"of {most:,}")
        memory_class(self.mode).validate(self)

    @property
    def memory(self):
        """The famcli.core.memory.base.Memory subclass of this mode."""
        from famcli.core.memory import memory_class

        return memory_class(self.mode)

    @property
    def trainable(self) -> bool:
        """Modes whose memory has weights that `famcli train` learns (and an adapter carries)."""
        return self.memory.trainable

    @property
    def rows(self) -> int:
        """Memory rows each layer keeps before the ring buffer (sink tokens, FAM vectors, slots)."""
        return self.memory.rows(self)

    @property
    def window(self) -> int:
        """Most keys a block token can see from the document (ring buffer + its own block)."""
        return (self.memory_segments + 1) * self.block_size

    def check_against(self, context_window: int) -> None:
        """Refuse sizes that push relative positions past what the model was trained on."""
        self.memory.check_against(self, context_window)

    def replace(self, **changes) -> "MemoryConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "MemoryConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
