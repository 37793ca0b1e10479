"""The streaming engine: the block loop and the ring buffer over a pretrained decoder (docs/design.md, sections 2-5).

Notation: L layers, d hidden size, H / Hkv query / key-value heads, D head size, B block size,
m memory segments, r memory rows, c tokens in the chunk being read.

The engine runs the model's own modules (norms, projections, MLP: famcli.core.layers) layer by layer; only
attention is famcli's (kernels). Per layer the keys and values live in one buffer laid out as

    [ memory rows (r: sink tokens, FAM vectors or Memformer slots) | ring of m+1 block slots (B each) ]

The block being read is one slot of the ring (slot tau mod (m+1)); the other m slots hold the previous
blocks, so a finished block never moves. What the memory rows hold, when they are visible and how they are
updated is the memory's business (famcli.core.memory, one module per mode): the engine calls its hooks and has
no per-mode code. Positions follow docs/design.md, section 3.2 (famcli.core.positions).
"""

from __future__ import annotations

import copy

import torch

from famcli import kernels
from famcli.common.errors import UserError
from famcli.core.config import MemoryConfig
from famcli.core.layers import LayerMath
from famcli.core.memory import memory_class
from famcli.core.memory.base import Plan
from famcli.core.positions import Rotary, rotate
from famcli.core.state import State, load_state, save_state

ZERO_SHOT_FAM_TEXT = (
    "Working memory. Keep the important facts of the text read so far: names, numbers, places, events."
)


class ContextOverflow(UserError):
    """Mode `full` was asked to read past the model's context window."""


class Engine:
    """Streams tokens through a loaded Llama-family model under one MemoryConfig.

    `weights` are the memory's learned tensors as an adapter file names them (None: the untrained memory,
    whose starting rows come from the embeddings of `prompt_ids`, the zero-shot text). `exact`: the layer
    products in the model's own dtype even on a model loaded with `--dtype int8` (what answers are read and
    decoded with)."""

    def __init__(self, model, config: MemoryConfig, weights: dict | None = None, context_window: int | None = None,
                 prompt_ids: list[int] | None = None, exact: bool = False, tokenizer=None):
        self.model, self.config, self.prompt_ids = model, config, prompt_ids
        self.tokenizer = tokenizer  # the keep memory reads word forms and sentence ends from it
        c = model.config
        self.n_layers, self.hidden = c.num_hidden_layers, c.hidden_size
        self.n_heads = c.num_attention_heads
        self.n_kv = getattr(c, "num_key_value_heads", None) or self.n_heads
        self.head_dim = getattr(c, "head_dim", None) or self.hidden // self.n_heads
        self.context_window = context_window or int(getattr(c, "max_position_embeddings", 2048))
        self.param = next(model.parameters())
        self.rotary = Rotary(model, self.param.dtype, self.param.device)
        self.layers = model.model.layers
        self.scale = float(getattr(self.layers[0].self_attn, "scaling", self.head_dim ** -0.5))
        self.math = LayerMath(model, self.n_heads, self.n_kv, self.head_dim, exact)
        self._size(config)
        self.memory = memory_class(config.mode)(self, weights)

    def _size(self, config: MemoryConfig) -> None:
        kind = memory_class(config.mode)
        kind.check_against(config, self.context_window)
        self.config = config
        self.ring = kind.ring_blocks(config, self.context_window)  # block slots in the ring buffer
        self.lookback = self.ring - 1  # previous blocks visible
        self.max_tokens = kind.max_tokens(config, self.context_window)
        self.head = kind.rows(config)  # memory rows before the ring
        self.buffer_len = self.head + self.ring * config.block_size

    def resized(self, block_size: int) -> "Engine":
        """This engine reading blocks of another size: the same model and the same memory weights (the very
        tensors, so training one trains both; training draws a block size per document)."""
        if block_size == self.config.block_size:
            return self
        new = copy.copy(self)
        new._size(self.config.replace(block_size=block_size))
        new.memory = copy.copy(self.memory)
        new.memory.engine, new.memory.config = new, new.config
        return new

    @property
    def int8(self) -> bool:
        return self.math.int8

    def finish(self, layer, residual: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        """Output projection, residual and MLP of one layer: attn (H, rows, D) -> (rows, d)."""
        return self.math.finish(layer, residual, attn)

    # ----- state -------------------------------------------------------------------------------

    def new_state(self) -> State:
        L, Hkv, D = self.n_layers, self.n_kv, self.head_dim
        kw = {"dtype": self.param.dtype, "device": self.param.device}
        k = torch.empty(L, Hkv, self.buffer_len, D, **kw)
        v = torch.empty(L, Hkv, self.buffer_len, D, **kw)
        k[:, :, :self.head].zero_()  # memory rows may be read before they are written: zero them
        v[:, :, :self.head].zero_()
        return State(k, v, self.memory.init_state())

    def save_state(self, state: State, path, identity: dict | None = None, recall=None) -> None:
        save_state(self, state, path, identity, recall)

    def load_state(self, path, identity: dict | None = None) -> State:
        return load_state(self, path, identity)

    def run_prompt(self, x: torch.Tensor) -> torch.Tensor:
        """Read n vectors (n, d) through every layer with ordinary causal attention; returns (L, n, d)."""
        n = x.shape[0]
        cos, sin = self.rotary.tables(-n, n)
        valid = torch.zeros(n, dtype=torch.bool, device=x.device)
        outs = []
        for layer in self.layers:
            q, k, v = self.math.project(layer, layer.input_layernorm(x))
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            x = self.finish(layer, x, kernels.block_attention(q, k, v, valid, 0, 0, self.scale))
            outs.append(x)
        return torch.stack(outs)

    # ----- reading -----------------------------------------------------------------------------

    def feed(self, state: State, ids, all_logits: bool = False) -> torch.Tensor:
        """Read token ids (any number, any chunking) into the state.

        Returns logits (V,) after the last token, or (T, V) for every token with all_logits=True.
        """
        ids = torch.as_tensor(ids, dtype=torch.long, device=self.param.device).reshape(-1)
        if ids.numel() == 0:
            if state.logits is None:
                raise ValueError("nothing has been read yet")
            return state.logits
        if self.max_tokens is not None and state.n_tokens + ids.numel() > self.max_tokens:
            raise ContextOverflow(
                f"{state.n_tokens + ids.numel()} tokens exceed the model's context window of "
                f"{self.max_tokens}; mode {self.config.mode} cannot read past it (use --memory fam)"
            )
        B, pieces, start = self.config.block_size, [], 0
        skip = torch.empty(0, dtype=torch.long, device=ids.device)
        while start < ids.numel():
            take = min(B - (state.n_tokens % B), ids.numel() - start)
            last = start + take == ids.numel()
            with torch.no_grad():
                if all_logits or last:
                    logits = self.chunk_forward(state, ids[start:start + take], all_logits)
                else:  # a block whose logits nobody reads skips the vocabulary projection (~3% of a read)
                    self.chunk_forward(state, ids[start:start + take], False, rows=skip)
                    state.logits = None
            if all_logits:
                pieces.append(logits)  # otherwise only the last is kept: memory stays flat on long input
            start += take
        return torch.cat(pieces) if all_logits else logits[-1]

    def chunk_forward(self, state: State, ids: torch.Tensor, all_logits: bool,
                      rows: torch.Tensor | None = None) -> torch.Tensor | None:
        """Read c <= B - offset tokens of the current block through all layers (the block step).

        Logits come for the last token, every token (all_logits) or the given row indices (`rows`, as in
        training, where most tokens carry no loss; an empty `rows` skips the vocabulary projection).
        Under autograd `state.k`, `state.v` and the memory's per-layer tensors may be lists of per-layer
        tensors (famcli.training.mrbp): writing one layer's slice then never touches another layer's saved tensors."""
        plan = self._plan(state, ids.numel())
        plan.ids = ids
        x = self.model.model.embed_tokens(ids)  # (c, d)
        self.memory.begin(state, plan)
        new = []
        for l, layer in enumerate(self.layers):
            x, m = self._layer(l, layer, x, state, plan)
            new.append(m)
        if plan.completes:
            self.memory.commit(state, new)
        state.n_tokens += ids.numel()
        if state.recall is not None:
            state.recall.add_tokens(ids)
        if rows is not None:
            if rows.numel() == 0:
                return None
            out = x[rows]
        else:
            out = x if all_logits else x[-1:]
        logits = self.model.lm_head(self.model.model.norm(out)).float()
        if rows is None:
            state.logits = logits[-1].detach()
        return logits

    def _plan(self, state: State, c: int) -> Plan:
        B = self.config.block_size
        tau, offset = divmod(state.n_tokens, B)
        slot = tau % self.ring
        base = self.head + slot * B
        used = self.buffer_len if tau >= self.ring else base + offset + c
        valid = torch.zeros(used, dtype=torch.bool, device=self.param.device)
        valid[: self.head] = self.memory.head_visible(tau)
        for j in range(self.ring):
            age = (tau - j) % self.ring  # ring slot j holds block tau - age
            lo = self.head + j * B
            if j != slot and 1 <= age <= self.lookback and tau - age >= 0 and lo < used:
                valid[lo: lo + B] = True
        bias = kernels.attention_bias(valid, c, base, offset, self.n_heads // self.n_kv, self.param.dtype)
        plan = Plan(tau, offset, c, base, used, valid, offset == 0, offset + c == B,
                    self.rotary.tables(state.n_tokens, c), bias)
        self.memory.prepare(state, plan)
        return plan

    def _layer(self, l: int, layer, x: torch.Tensor, state: State, plan: Plan):
        """One decoder layer for the chunk's tokens (and the memory's rows, when it reads some); returns
        (x, the memory's new value for layer l or None)."""
        extra = self.memory.rows_in(l, state, plan)
        rows = x if extra is None else torch.cat([extra, x])
        q, k, v = self.math.project(layer, layer.input_layernorm(rows))  # (H|Hkv, rows, D)
        if extra is not None:
            r = extra.shape[0]
            self.memory.keep(l, state, plan, q[:, :r], k[:, :r], v[:, :r])
            q, k, v = q[:, r:], k[:, r:], v[:, r:]
        if state.recall is not None:
            state.recall.observe(l, q, k)
        self.memory.observe(l, state, plan, k, v)
        q, k = rotate(q, *plan.rope), rotate(k, *plan.rope)
        lo = plan.base + plan.offset
        state.k[l][:, lo: lo + plan.c] = k
        state.v[l][:, lo: lo + plan.c] = v
        keys, values = state.k[l][:, : plan.used], state.v[l][:, : plan.used]
        attn = kernels.block_attention(q, keys, values, plan.valid, plan.base, plan.offset, self.scale, plan.bias)
        return self.memory.finish(l, layer, state, plan, x, attn, keys, values)


def build_engine(loaded, config: MemoryConfig, exact: bool = False) -> "Engine":
    """For a loaded model (famcli.models.loading.LoadedModel), an engine using the merged adapter's memory weights when it was trained for this mode; otherwise the
    untrained memory (zero-shot FAM prompt from a fixed text, docs/design.md, section 3.1; a seeded Memformer
    writer).
    exact: products in the model's own dtype even when it reads in int8."""
    adapter = loaded.adapter
    weights = adapter.memory if adapter is not None and adapter.mode == config.mode else None
    prompt_ids = loaded.tokenizer.encode(ZERO_SHOT_FAM_TEXT, add_special_tokens=False)
    return Engine(loaded.model, config, weights, loaded.context_window, prompt_ids, exact, loaded.tokenizer)


def untrained_memory(loaded, config: MemoryConfig) -> bool:
    """For a loaded model (famcli.models.loading.LoadedModel): true when a trainable memory runs without its learned weights (zero-shot FAM, untrained writer)."""
    return config.trainable and (loaded.adapter is None or loaded.adapter.mode != config.mode)
