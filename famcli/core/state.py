"""The reading state the engine carries from block to block, and its file format (safetensors, no pickle).

Constant size whatever the document length: per layer the key/value buffer (memory rows | ring of
m+1 blocks), the memory's own tensors (`mem`, the memory's `MemoryState`: `fam`, `slots`, ...), and the logits
after the last token read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import torch

from famcli.common.errors import UserError
from famcli.common.limits import MAX_STATE_TOKENS
from famcli.core.memory.base import MemoryState

STATE_FORMAT = "famcli-state-1"


@dataclass
class State:
    k: torch.Tensor  # (L, Hkv, rows + ring*B, D) rotated keys (per-layer lists while training, famcli.training.mrbp)
    v: torch.Tensor  # (L, Hkv, rows + ring*B, D)
    mem: MemoryState = field(default_factory=MemoryState)  # the memory's tensors (famcli.core.memory)
    n_tokens: int = 0
    updates: int = 0  # memory updates so far (completed blocks of a memory that updates)
    logits: torch.Tensor | None = None  # (V,) fp32 logits after the last token read
    extra: dict = field(default_factory=dict)
    recall: object | None = None  # a famcli.recall.index.RecallIndex fed while reading (never cloned or saved here)

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"k": self.k, "v": self.v, **self.mem.tensors()}
        if self.logits is not None:
            out["logits"] = self.logits
        return out

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors().values())

    def clone(self) -> "State":
        return State(self.k.clone(), self.v.clone(), self.mem.clone(), self.n_tokens,
                     self.updates, None if self.logits is None else self.logits.clone(), dict(self.extra))


def save_state(engine, state: State, path, identity: dict | None = None, recall=None) -> None:
    """Write the complete reading state, and the recall index if given, atomically."""
    from safetensors.torch import save_file

    from famcli.common.outputs import atomic

    used = engine.buffer_len if state.n_tokens >= engine.ring * engine.config.block_size else \
        engine.head + state.n_tokens
    tensors = {name: t.contiguous() for name, t in state.tensors().items()}
    tensors["k"] = state.k[:, :, :used].contiguous()
    tensors["v"] = state.v[:, :, :used].contiguous()
    meta = {"format": STATE_FORMAT, "config": engine.config.to_json(),
            "n_tokens": str(state.n_tokens), "fam_updates": str(state.updates),
            "model": json.dumps(identity or {}, sort_keys=True), "extra": json.dumps(state.extra)}
    if recall is not None:
        tensors |= {name: t.contiguous() for name, t in recall.tensors().items()}
        meta["recall"] = recall.metadata()
    with atomic(path) as tmp:  # a kill mid-write never leaves half a state file
        save_file(tensors, str(tmp), metadata=meta)


def _check(path, tensors: dict[str, torch.Tensor], meta: dict, state: State) -> None:
    """Every tensor a saved state holds has the shape this engine's state has (the buffer may be shorter: a
    reading of fewer tokens than the ring), the dtype kind it has (floating with finite values, or integer), before any
    is used."""
    damaged = f"{path} is a damaged famcli state file"
    expected = {"k": state.k, "v": state.v, **state.mem.tensors()}
    for name in ("k", "v"):
        if name not in tensors:
            raise UserError(f"{damaged}: the tensor {name!r} is missing")
    for name, t in tensors.items():
        if name.startswith("recall."):
            continue
        if name == "logits":
            if t.dim() != 1 or t.numel() == 0:
                raise UserError(f"{damaged}: 'logits' has shape {tuple(t.shape)}, not one row of the vocabulary")
        elif name not in expected:
            raise UserError(f"{damaged}: it holds a tensor {name!r} this memory does not have")
        elif not _fits(name, t.shape, expected[name].shape):
            raise UserError(f"{damaged}: {name!r} has shape {tuple(t.shape)}, this model and memory need "
                            f"{tuple(expected[name].shape)}")
        floating = expected[name].is_floating_point() if name in expected else True
        if t.is_floating_point() != floating or t.dtype == torch.bool:
            kind = "a floating" if floating else "an integer"
            raise UserError(f"{damaged}: {name!r} holds {t.dtype}, not {kind} type")
        if floating and not bool(torch.isfinite(t).all()):
            raise UserError(f"{damaged}: {name!r} holds non-finite values")


def _fits(name: str, saved: torch.Size, want: torch.Size) -> bool:
    """The same shape; for the key/value buffer (L, Hkv, rows, D) at most as many rows."""
    if name not in ("k", "v"):
        return saved == want
    return len(saved) == len(want) == 4 and saved[:2] == want[:2] and saved[3] == want[3] and saved[2] <= want[2]


def _count(path, meta: dict, key: str) -> int:
    raw = meta.get(key, "")
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{path} is a damaged famcli state file: {key} is {raw[:40]!r}, not a count") from None
    if not 0 <= value <= MAX_STATE_TOKENS:
        raise UserError(f"{path} is a damaged famcli state file: {key} {value} is out of range")
    return value


def load_state(engine, path, identity: dict | None = None) -> State:
    """A saved state; its recall index, if the file has one, comes back as `state.recall` (detach it before
    feeding more tokens that should not be indexed)."""
    from safetensors import SafetensorError, safe_open

    not_state = f"{path} is not a famcli state file (one written by --save-state)"
    try:
        with safe_open(str(path), framework="pt", device=str(engine.param.device)) as f:
            meta = f.metadata() or {}
            if meta.get("format") != STATE_FORMAT:
                raise UserError(not_state)
            saved = type(engine.config).from_dict(json.loads(meta["config"]))
            if saved != engine.config:
                raise UserError(f"{path} was saved with memory {saved.to_json()}, not {engine.config.to_json()}")
            if identity is not None and json.loads(meta.get("model", "{}")) != identity:
                raise UserError(f"{path} was saved with a different model")
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, KeyError, json.JSONDecodeError) as exc:
        raise UserError(f"{not_state}: {str(exc).splitlines()[0][:120]}") from None
    state = engine.new_state()
    _check(path, tensors, meta, state)
    used = tensors["k"].shape[2]
    state.k[:, :, :used] = tensors["k"]
    state.v[:, :, :used] = tensors["v"]
    for name, fresh in state.mem.tensors().items():
        if name in tensors:
            kind = fresh.dtype  # integer tensors (positions, token ids) keep their type
            setattr(state.mem, name, tensors[name].to(kind if not kind.is_floating_point else
                                                      torch.float32 if name in engine.memory.fp32 else
                                                      engine.param.dtype))
    if "logits" in tensors:
        state.logits = tensors["logits"].float()
    state.n_tokens, state.updates = _count(path, meta, "n_tokens"), _count(path, meta, "fam_updates")
    state.extra = json.loads(meta.get("extra", "{}"))
    if not isinstance(state.extra, dict):
        raise UserError(f"{path} is a damaged famcli state file: its extra field is not an object")
    if "recall" in meta:
        from famcli.recall.index import RecallIndex

        recall = {name: t for name, t in tensors.items() if name.startswith("recall.")}
        try:
            state.recall = RecallIndex.from_saved(meta["recall"], recall, engine.n_layers,
                                                  engine.model.config.vocab_size)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            if isinstance(exc, UserError):
                raise UserError(f"{path}: {exc}") from None
            raise UserError(f"{path} holds a damaged recall index ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:100] if str(exc) else ''})") from None
    return state
