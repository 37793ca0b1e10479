"""The recall index: what famcli keeps of a document while it streams it, so a question can re-read the
passages that matter (InfLLM, arXiv 2402.04617, for the attention scorer; BM25 for the lexical one).

Notation: T tokens read, C chunk size (tokens per recall chunk), H / Hkv query / key-value heads, D head
size, r representative keys per chunk, layer and key-value head.

The index keeps
- the token ids of everything read (2 bytes a token for vocabularies under 65,536, else 4): the passages
  are re-read from them, and BM25 scores their text when the question comes;
- per chunk of C tokens, for the attention scorer, either r representative keys per chosen layer and head
  (question not known yet: `--save-state`, chat) or, when the question's queries were given before reading,
  only the chunk's per-head scores against them (nothing else of a chunk outlives it); with the question known
  and a text scorer (BM25), nothing but the ids.

Chunks are cut at absolute token counts (every C tokens of the document), never at the reader's pieces, so
any chunking of the same text gives the same index. Keys and queries are taken before the rotary embedding:
a score compares what a chunk is about with what the question asks, wherever each stands (InfLLM gives all
memory units one position for the same reason).
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass

import torch

from famcli.common.errors import UserError

INDEX_FORMAT = "famcli-recall-1"


@dataclass(frozen=True)
class RecallConfig:
    """chunk_tokens  C, tokens per recall chunk (the unit a score is given to)
    layers        the layers whose keys the attention scorer reads (chosen by measurement, docs/recall.md)
    reps          r, representative keys kept per chunk, layer and key-value head"""

    chunk_tokens: int = 128
    layers: tuple[int, ...] = (17, 18, 28, 29)
    reps: int = 4

    def __post_init__(self):
        if self.chunk_tokens < 8 or self.reps < 1:
            raise ValueError("recall chunks need at least 8 tokens and 1 representative key")

    def to_dict(self) -> dict:
        return {"chunk_tokens": self.chunk_tokens, "layers": list(self.layers), "reps": self.reps}

    @classmethod
    def from_dict(cls, data: dict) -> "RecallConfig":
        return cls(int(data["chunk_tokens"]), tuple(int(x) for x in data["layers"]), int(data["reps"]))


def layers_for(n_layers: int, config: RecallConfig) -> tuple[int, ...]:
    """The configured layers that the model has (a 2-layer test model keeps what it can)."""
    kept = tuple(sorted({l for l in config.layers if l < n_layers}))
    return kept or (n_layers - 1,)


def planned_bytes_per_token(config: RecallConfig, model_config) -> dict:
    """What an index for an unknown question costs per token read: ids, and fp16 representative keys."""
    c = model_config
    n_kv = getattr(c, "num_key_value_heads", None) or c.num_attention_heads
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    keys = len(layers_for(c.num_hidden_layers, config)) * n_kv * config.reps * head_dim * 2
    return {"ids": 2 if c.vocab_size <= 1 << 16 else 4, "index": round(keys / config.chunk_tokens, 1)}


class RecallIndex:
    """Grows while the engine reads (State.recall); scores chunks once a question comes (famcli.recall.search)."""

    def __init__(self, config: RecallConfig, n_layers: int, vocab_size: int,
                 query: dict[int, torch.Tensor] | None = None, keys: bool = True):
        self.config = config
        self.layers = layers_for(n_layers, config) if keys or query is not None else ()
        self.ids = array("H" if vocab_size <= 1 << 16 else "I")
        self.query = query  # {layer: (H, Tq, D) pre-rotary question queries} when the question is known
        self.reps: list[torch.Tensor] = []  # per chunk (layers, Hkv, r, D) fp16, question not known
        self.head_scores: list[torch.Tensor] = []  # per chunk (layers * H,) fp32, question known
        self.places: list[tuple[int, str, int | str]] = []  # (token offset, "page"/"chapter"/..., label)
        self.front = ""  # the document's metadata (famcli.documents.base.Document.front), saved with the reading
        self._q: dict[int, list[torch.Tensor]] = {l: [] for l in self.layers}  # pending (H, c, D) pieces
        self._k: dict[int, list[torch.Tensor]] = {l: [] for l in self.layers}
        self._pending = 0

    # ----- while reading (called by the engine) -------------------------------------------------------

    def observe(self, layer: int, q: torch.Tensor, k: torch.Tensor) -> None:
        """One layer's pre-rotary queries (H, c, D) and keys (Hkv, c, D) for the chunk being read."""
        if layer in self._q:
            self._q[layer].append(q.detach())
            self._k[layer].append(k.detach())

    def add_tokens(self, ids: torch.Tensor) -> None:
        """The ids the layers just saw; closes every recall chunk they complete."""
        self.ids.extend(int(i) for i in ids.tolist())
        self._pending += ids.numel()
        C = self.config.chunk_tokens
        while self._pending >= C:
            self._close(C)

    def finish(self) -> None:
        """Close the last, shorter chunk (end of the document)."""
        if self._pending:
            self._close(self._pending)

    def _close(self, c: int) -> None:
        self._pending -= c
        if not self.layers:  # ids only: a known question under a text scorer
            return
        reps = []
        for l in self.layers:
            q, k = torch.cat(self._q[l], dim=1), torch.cat(self._k[l], dim=1)
            self._q[l], self._k[l] = [q[:, c:]], [k[:, c:]]
            reps.append(representatives(q[:, :c], k[:, :c], self.config.reps))
        chunk = torch.stack(reps)  # (layers, Hkv, r, D)
        if self.query is None:
            self.reps.append(chunk.to(torch.float16))
        else:
            self.head_scores.append(head_scores(self.query, self.layers, chunk[None])[0])

    # ----- what was kept --------------------------------------------------------------------------------

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    @property
    def n_chunks(self) -> int:
        return -(-len(self.ids) // self.config.chunk_tokens)

    def mark_place(self, kind: str, label: int | str) -> None:
        """The tokens read from now on come from this page, chapter or section (called before it is read)."""
        if not self.places or self.places[-1][1:] != (kind, label):
            self.places.append((self.n_tokens, kind, label))

    def place_at(self, offset: int) -> tuple[str, int | str] | None:
        """Where the token at `offset` was read from: ("page", 3), ("chapter", "II. The Pool of Tears")."""
        found = None
        for start, kind, label in self.places:
            if start > offset:
                break
            found = (kind, label)
        return found

    def chunk_span(self, i: int) -> tuple[int, int]:
        C = self.config.chunk_tokens
        return i * C, min((i + 1) * C, self.n_tokens)

    def nbytes(self) -> int:
        """Bytes beyond the token ids: representative keys, or per-head scores."""
        return sum(t.numel() * t.element_size() for t in [*self.reps, *self.head_scores])

    def bytes_per_token(self) -> dict:
        n = max(1, self.n_tokens)
        return {"ids": self.ids.itemsize, "index": round(self.nbytes() / n, 1)}

    # ----- state files ----------------------------------------------------------------------------------

    def tensors(self) -> dict[str, torch.Tensor]:
        if self.query is not None:
            raise UserError("a recall index built for one question cannot be saved for others")
        ids = torch.frombuffer(bytearray(self.ids.tobytes()), dtype=torch.int16 if self.ids.itemsize == 2
                               else torch.int32) if len(self.ids) else torch.zeros(0, dtype=torch.int16)
        out = {"recall.ids": ids}
        if self.reps:
            out["recall.reps"] = torch.stack(self.reps)
        return out

    def metadata(self) -> str:
        return json.dumps({"format": INDEX_FORMAT, "config": self.config.to_dict(), "layers": list(self.layers),
                           "typecode": self.ids.typecode, "places": self.places, "front": self.front})

    @classmethod
    def from_saved(cls, meta: str, tensors: dict[str, torch.Tensor], n_layers: int,
                   vocab_size: int) -> "RecallIndex":
        info = json.loads(meta)
        if not isinstance(info, dict) or info.get("format") != INDEX_FORMAT:
            raise UserError("the state file holds a recall index famcli cannot read")
        index = cls(RecallConfig.from_dict(info["config"]), n_layers, vocab_size)
        if info.get("typecode") not in ("H", "I") or "recall.ids" not in tensors:
            raise UserError("the state file's recall index has no token ids famcli can read")
        raw = tensors["recall.ids"].numpy().tobytes()
        index.ids = array(info["typecode"])
        if len(raw) % index.ids.itemsize:
            raise UserError("the state file's recall index has a partial token id")
        index.ids.frombytes(raw)
        if index.ids and max(index.ids) >= vocab_size:
            raise UserError("the state file's recall index holds token ids past this model's vocabulary")
        front = info.get("front", "")  # the file's title and author (Document.front); none in files saved before
        index.front = front[:1000] if isinstance(front, str) else ""
        places = info.get("places", [])
        index.places = [(int(p[0]), str(p[1]), p[2]) for p in places] or \
            [(int(start), "page", page) for start, page in info.get("pages", [])]  # files saved before chapters
        if any(not 0 <= p[0] <= len(index.ids) or not isinstance(p[2], (int, str)) for p in index.places):
            raise UserError("the state file's recall index has places outside its tokens")
        if "recall.reps" in tensors:
            reps = tensors["recall.reps"]
            if reps.dim() != 5 or not bool(torch.isfinite(reps).all()):
                raise UserError("the state file's recall index has damaged representatives")
            index.reps = list(reps.to(torch.float16).unbind(0))
        return index


def representatives(q: torch.Tensor, k: torch.Tensor, r: int) -> torch.Tensor:
    """InfLLM's representative tokens: per key-value head, the r keys that the chunk's own queries score
    highest (summed over the queries and the query heads of the group). q (H, c, D), k (Hkv, c, D) ->
    (Hkv, r, D); a chunk shorter than r repeats its best key."""
    Hkv, c, D = k.shape
    group = q.shape[0] // Hkv
    qg = q.float().reshape(Hkv, group * c, D)  # (Hkv, g*c, D)
    received = torch.einsum("hqd,hkd->hk", qg, k.float())  # (Hkv, c) attention logits each key receives
    top = received.topk(min(r, c), dim=-1).indices  # (Hkv, r')
    if top.shape[1] < r:
        top = torch.cat([top, top[:, :1].expand(Hkv, r - top.shape[1])], dim=1)
    return torch.gather(k.float(), 1, top[..., None].expand(Hkv, r, D))


def head_scores(query: dict[int, torch.Tensor], layers: tuple[int, ...], reps: torch.Tensor) -> torch.Tensor:
    """For each layer and query head, the best representative key's logit averaged over the question's
    tokens. query {layer: (H, Tq, D)}, reps (n, layers, Hkv, r, D) -> (n, layers * H)."""
    n, _, Hkv, r, D = reps.shape
    out = []
    for j, l in enumerate(layers):
        q = query[l].float()  # (H, Tq, D)
        k = reps[:, j].float().repeat_interleave(q.shape[0] // Hkv, dim=1)  # (n, H, r, D)
        out.append(torch.einsum("htd,nhrd->nhtr", q, k).amax(-1).mean(-1))  # (n, H)
    return torch.cat(out, dim=1)


def attention_scores(scores: torch.Tensor) -> torch.Tensor:
    """Chunk relevance from per-head scores (n, layers * H): each head standardised across the chunks (so
    no head's scale dominates), then summed -> (n,)."""
    if scores.shape[0] < 2:
        return scores.sum(-1)
    return ((scores - scores.mean(0)) / scores.std(0).clamp_min(1e-6)).sum(-1)


class QueryCapture:
    """Stands in for an index while the question is read: keeps its pre-rotary queries at the index's layers."""

    def __init__(self, layers: tuple[int, ...]):
        self.queries: dict[int, list[torch.Tensor]] = {l: [] for l in layers}

    def observe(self, layer: int, q: torch.Tensor, k: torch.Tensor) -> None:
        if layer in self.queries:
            self.queries[layer].append(q.detach())

    def add_tokens(self, ids: torch.Tensor) -> None:
        pass

    def result(self) -> dict[int, torch.Tensor]:
        return {l: torch.cat(qs, dim=1) for l, qs in self.queries.items()}
