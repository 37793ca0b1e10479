"""The memories famcli reads with, one module each, found through one registry (docs/design.md, section 4).

A memory is a `famcli.core.memory.base.Memory` subclass: it owns its state tensors, its hooks in the engine's
block step, its learned parameters and the tensors its adapter file holds. The engine keeps the block loop
and the ring buffer and never branches on the mode. Adding a memory is one module plus one line below
(or `register(name, cls)` at run time, as the tests do with a toy memory).

    full       the plain model: every token sees the whole context window (no memory, bounded length)
    sink       BSWA + the first tokens kept forever (StreamingLLM)
    bswa       block sliding window attention alone
    fam        BSWA + Feedback Attention Memory (TransformerFAM, Algorithm 2)
    memformer  BSWA + Memformer slots written by a learned gated writer (docs/design.md, section 7)
    keep       BSWA + rows kept by the question's words, copied, not mixed (docs/keep.md)
"""

from __future__ import annotations

import importlib

_REGISTRY: dict[str, object] = {  # mode -> "module:Class" (imported when first used) or the class itself
    "full": "famcli.core.memory.window:Full",
    "sink": "famcli.core.memory.window:Sink",
    "bswa": "famcli.core.memory.window:Bswa",
    "fam": "famcli.core.memory.fam:Fam",
    "memformer": "famcli.core.memory.memformer:Memformer",
    "keep": "famcli.core.memory.keep:Keep",
}
BUILTIN = tuple(_REGISTRY)


def modes() -> tuple[str, ...]:
    """Every registered memory mode, in registration order."""
    return tuple(_REGISTRY)


def memory_class(mode: str):
    """The Memory subclass of a mode (KeyError for an unknown one; MemoryConfig reports it to users)."""
    entry = _REGISTRY[mode]
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        entry = _REGISTRY[mode] = getattr(importlib.import_module(module), name)
    return entry


def trainable_modes() -> tuple[str, ...]:
    """Modes whose memory has weights of its own that `famcli train` learns and an adapter carries."""
    return tuple(m for m in _REGISTRY if memory_class(m).trainable)


def register(mode: str, cls) -> None:
    """Add (or replace) a memory mode."""
    _REGISTRY[mode] = cls


def unregister(mode: str) -> None:
    if mode in BUILTIN:
        raise ValueError(f"{mode} is a built-in memory")
    _REGISTRY.pop(mode, None)
