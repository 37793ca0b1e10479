"""The options a command is run with, as objects built once and passed down (docs/design.md, section 11).

Imports nothing heavy (no torch): the CLI and `batch` check options with it before any model loads or any worker
starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from famcli.common.choices import Precision
from famcli.core.config import ZERO_SHOT, MemoryConfig


def memory_config(memory: str, block_size=None, memory_segments=None, fam_length=None) -> MemoryConfig:
    """Options checked before any model loads (`auto` and the zero-shot label are checked as fam; the
    runtime decides `auto` once it knows the adapters)."""
    given = {"block_size": block_size, "memory_segments": memory_segments, "fam_length": fam_length}
    mode = "fam" if memory in ("auto", ZERO_SHOT) else memory
    return MemoryConfig(mode=mode, **{k: v for k, v in given.items() if v is not None})


@dataclass
class SessionOptions:
    """How a session loads its model and memory: the model options of every command, built once by the CLI
    (or a batch job) and passed down. `sizes`: block_size, memory_segments, fam_length (None: the default or
    the adapter's)."""

    model: str | None = None
    memory: str = "auto"
    sizes: dict = field(default_factory=dict)
    dtype: Precision = "auto"
    device: str = "auto"
    seed: int = 0
    adapter: str = "auto"

    def check(self) -> MemoryConfig:
        """The memory options checked before any model loads."""
        return memory_config(self.memory, **self.sizes)
