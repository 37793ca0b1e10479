"""The streaming engine: BSWA + Feedback Attention Memory over a pretrained decoder (design doc 2-5).

Notation: L layers, d hidden size, H / Hkv query / key-value heads, D head size, B block size,
m memory segments, N FAM length, S sink tokens, c tokens in the chunk being read.

The engine runs the model's own modules (norms, projections, MLP) layer by layer; only attention is
famcli's. Per layer the keys and values live in one buffer laid out as

    [ sink (S) | FAM (N) or Memformer slots (K) | ring of m+1 block slots (B each) ]

The block being read is one slot of the ring (slot tau mod (m+1)); the other m slots hold the previous
blocks, so a finished block never moves. Its FAM rows (Algorithm 2) go through the same projections and
MLP as the block's tokens, fed back within the layer: layer l's FAM output for block tau is layer l's FAM
input for block tau+1. FAM queries see the previous FAM and the whole block, never the ring.

Mode memformer (design doc section 7, famcli.memformer) puts K slots where the FAM keys go; the block
reads them the same way, and at the end of the block a small learned writer, not the layer, updates them.

Where the paper and the design doc differ (positions), this follows the design doc; see positions.py.

One option goes beyond both (MemoryConfig.fam_keep_norm, off unless an adapter was trained with it): Algorithm 2
adds every block's attention and MLP output to the FAM and takes nothing away, so the FAM's norm grows with
every update (measured with a trained adapter: 1,851 -> 12,272 over 32 blocks in layer 15), past anything
training showed the model. With the option each update is rescaled, vector by vector, to the norm of the FAM
it replaces: no new weights, the same update direction, and a memory whose size stays where training saw it.
(Measured in the README, run 7: it keeps the norm, but on its own it did not carry a pass key further.)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import torch

import kernels
from famcli.config import ConfigError, MemoryConfig
from famcli.memformer import SlotWriter
from famcli.positions import Rotary, rotate
from famcli.quant import int8_linear

STATE_FORMAT = "famcli-state-1"
ZERO_SHOT_FAM_TEXT = (
    "Working memory. Keep the important facts of the text read so far: names, numbers, places, events."
)


class ContextOverflow(RuntimeError):
    """Mode `full` was asked to read past the model's context window."""


@dataclass
class State:
    """Everything the engine carries from block to block; constant size whatever the document length."""

    k: torch.Tensor  # (L, Hkv, S + N + slots*B, D) rotated keys
    v: torch.Tensor  # (L, Hkv, S + N + slots*B, D)
    fam: torch.Tensor | None  # (L, N, d) F^l_{tau-1}, the FAM the current block reads and updates
    q_fam: torch.Tensor | None  # (L, H, N, D) FAM queries of the current block, kept between chunks
    sink_raw: torch.Tensor | None  # (L, Hkv, S, D) keys of the first tokens before rotation
    n_tokens: int = 0
    fam_updates: int = 0
    logits: torch.Tensor | None = None  # (V,) logits after the last token read
    extra: dict = field(default_factory=dict)
    slots: torch.Tensor | None = None  # (L, K, d) fp32 Memformer slots the current block reads
    w_max: torch.Tensor | None = None  # (L, K) the writer's running softmax over the current block:
    w_sum: torch.Tensor | None = None  # (L, K)   max, sum of weights,
    w_acc: torch.Tensor | None = None  # (L, K, d) weighted sum of values
    recall: object | None = None  # a famcli.recall.RecallIndex fed while reading (never cloned or saved here)

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"k": self.k, "v": self.v}
        for name in OPTIONAL:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors().values())

    def clone(self) -> "State":
        copy = {name: t.clone() for name, t in self.tensors().items()}
        return State(copy["k"], copy["v"], copy.get("fam"), copy.get("q_fam"), copy.get("sink_raw"),
                     self.n_tokens, self.fam_updates, copy.get("logits"), dict(self.extra),
                     copy.get("slots"), copy.get("w_max"), copy.get("w_sum"), copy.get("w_acc"))


OPTIONAL = ("fam", "q_fam", "sink_raw", "logits", "slots", "w_max", "w_sum", "w_acc")
FP32 = ("logits", "slots", "w_max", "w_sum", "w_acc")  # state tensors kept in fp32 whatever the model's dtype


class Engine:
    """Streams tokens through a loaded Llama-family model under one MemoryConfig."""

    def __init__(self, model, config: MemoryConfig, fam_prompt: torch.Tensor | None = None,
                 fam_prompt_ids: list[int] | None = None, context_window: int | None = None,
                 writer: SlotWriter | None = None):
        self.model = model
        self.config = config
        c = model.config
        self.n_layers = c.num_hidden_layers
        self.hidden = c.hidden_size
        self.n_heads = c.num_attention_heads
        self.n_kv = getattr(c, "num_key_value_heads", None) or self.n_heads
        self.head_dim = getattr(c, "head_dim", None) or self.hidden // self.n_heads
        self.context_window = context_window or int(getattr(c, "max_position_embeddings", 2048))
        self.param = next(model.parameters())
        self.int8 = bool(getattr(model, "_famcli_int8", False))  # --dtype int8: int8 layer weights (famcli.quant)
        self.rotary = Rotary(model, self.param.dtype, self.param.device)
        self.layers = model.model.layers
        self.scale = float(getattr(self.layers[0].self_attn, "scaling", self.head_dim ** -0.5))
        config.check_against(self.context_window)
        if config.mode == "sink" and config.sink_tokens > config.block_size:
            raise ConfigError("sink-tokens must not exceed block-size")
        B = config.block_size
        self.slots = math.ceil(self.context_window / B) if config.mode == "full" else config.memory_segments + 1
        self.lookback = self.slots - 1  # previous blocks visible
        self.S, self.N, self.K = config.n_sink, config.n_fam, config.n_slots
        self.R = self.N + self.K  # memory rows before the ring: FAM or slots (never both)
        self.head = self.S + self.R
        self.buffer_len = self.head + self.slots * B
        self._fam_prompt = fam_prompt
        self._fam_prompt_ids = fam_prompt_ids
        for layer in self.layers:
            _fuse(layer.self_attn, ("q_proj", "k_proj", "v_proj"))
            if hasattr(layer.mlp, "down_proj") and hasattr(layer.mlp, "act_fn"):
                _fuse(layer.mlp, ("gate_proj", "up_proj"))
        self._initial_fam = None
        self.writer = writer
        if self.K:
            if writer is None:  # untrained: seeded projections, slots from the model's reading of a fixed text
                with torch.no_grad():
                    self.writer = SlotWriter.initial(self.run_prompt(self.fam_prompt(self.K)))
            if self.writer.n_slots != self.K or self.writer.init_slots.shape[0] != self.n_layers:
                raise ConfigError(f"the memformer writer has {self.writer.n_slots} slots for "
                                  f"{self.writer.init_slots.shape[0]} layers; this run needs {self.K} for "
                                  f"{self.n_layers}")
            self.writer.to(self.param.device)

    # ----- state -------------------------------------------------------------------------------

    def new_state(self) -> State:
        L, Hkv, D = self.n_layers, self.n_kv, self.head_dim
        kw = {"dtype": self.param.dtype, "device": self.param.device}
        k = torch.empty(L, Hkv, self.buffer_len, D, **kw)
        v = torch.empty(L, Hkv, self.buffer_len, D, **kw)
        k[:, :, :self.head].zero_()  # sink and memory regions are read before they are written: zero them
        v[:, :, :self.head].zero_()
        fam = self.initial_fam().clone() if self.N else None
        q_fam = torch.zeros(L, self.n_heads, self.N, D, **kw) if self.N else None
        sink_raw = torch.zeros(L, Hkv, self.S, D, **kw) if self.S else None
        state = State(k, v, fam, q_fam, sink_raw)
        if self.K:
            f32 = {"dtype": torch.float32, "device": self.param.device}
            state.slots = self.writer.init_slots.detach().to(**f32).clone()
            state.w_max = torch.zeros(L, self.K, **f32)
            state.w_sum = torch.zeros(L, self.K, **f32)
            state.w_acc = torch.zeros(L, self.K, self.hidden, **f32)
        return state

    def fam_prompt(self, n: int | None = None) -> torch.Tensor:
        """(N, d) soft prompt: the adapter's, else the embeddings of a fixed text (zero-shot, 3.1)."""
        if self._fam_prompt is not None:
            return self._fam_prompt.to(self.param)
        n = n or self.N
        ids = self._fam_prompt_ids or list(range(1, n + 1))
        ids = [ids[i % len(ids)] for i in range(n)]
        return self.model.model.embed_tokens(torch.tensor(ids, device=self.param.device))

    @torch.no_grad()
    def initial_fam(self) -> torch.Tensor:
        """F^l_{-1}: each layer's output when the FAM prompt is read alone (causally), (L, N, d)."""
        if self._initial_fam is None:
            self._initial_fam = self.run_prompt(self.fam_prompt())
        return self._initial_fam

    def run_prompt(self, x: torch.Tensor) -> torch.Tensor:
        """Read N vectors through every layer with ordinary causal attention; returns (L, N, d)."""
        n = x.shape[0]
        cos, sin = self.rotary.tables(-n, n)
        valid = torch.zeros(n, dtype=torch.bool, device=x.device)
        outs = []
        for layer in self.layers:
            q, k, v = self._project(layer, layer.input_layernorm(x))
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            attn = kernels.block_attention(q, k, v, valid, 0, 0, self.scale)
            x = self._finish(layer, x, attn)
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
        if self.config.mode == "full" and state.n_tokens + ids.numel() > self.context_window:
            raise ContextOverflow(
                f"{state.n_tokens + ids.numel()} tokens exceed the model's context window of "
                f"{self.context_window}; mode full cannot read past it (use --memory fam)"
            )
        B, pieces, start = self.config.block_size, [], 0
        while start < ids.numel():
            take = min(B - (state.n_tokens % B), ids.numel() - start)
            logits = self._chunk(state, ids[start:start + take], all_logits)
            if all_logits:
                pieces.append(logits)  # otherwise only the last is kept: memory stays flat on long input
            start += take
        return torch.cat(pieces) if all_logits else logits[-1]

    @torch.no_grad()
    def _chunk(self, state: State, ids: torch.Tensor, all_logits: bool) -> torch.Tensor:
        return self.chunk_forward(state, ids, all_logits)

    def chunk_forward(self, state: State, ids: torch.Tensor, all_logits: bool,
                      rows: torch.Tensor | None = None) -> torch.Tensor | None:
        """Read c <= B - offset tokens of the current block through all layers (the block step).

        Logits come for the last token, every token (all_logits) or the given row indices (`rows`, as in
        training, where most tokens carry no loss; an empty `rows` skips the vocabulary projection).
        Under autograd `state.k`, `state.v` and `state.q_fam` may be lists of per-layer tensors (see
        famcli.mrbp): writing one layer's slice then never touches another layer's saved tensors."""
        plan = self._plan(state, ids.numel())
        x = self.model.model.embed_tokens(ids)  # (c, d)
        if plan.offset == 0 and plan.sink_active:
            self._place_sink(state, plan)
        new_memory = []
        for l, layer in enumerate(self.layers):
            x, f = self._layer(l, layer, x, state, plan)
            new_memory.append(f)
        if plan.completes:
            if self.N:
                state.fam = torch.stack(new_memory)
            else:
                state.slots = torch.stack(new_memory)
            state.fam_updates += 1
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

    def _plan(self, state: State, c: int) -> "_Plan":
        B = self.config.block_size
        tau, offset = divmod(state.n_tokens, B)
        slot = tau % self.slots
        base = self.head + slot * B
        used = self.buffer_len if tau >= self.slots else base + offset + c
        valid = torch.zeros(used, dtype=torch.bool, device=self.param.device)
        sink_active = bool(self.S) and tau > self.lookback
        valid[: self.S] = sink_active
        valid[self.S: self.head] = True
        for j in range(self.slots):
            age = (tau - j) % self.slots  # ring slot j holds block tau - age
            lo = self.head + j * B
            if j != slot and 1 <= age <= self.lookback and tau - age >= 0 and lo < used:
                valid[lo: lo + B] = True
        starts = offset == 0 and bool(self.R)
        completes = offset + c == B and bool(self.R)
        group, dtype = self.n_heads // self.n_kv, self.param.dtype
        plan = _Plan(tau, offset, c, base, used, valid, None, starts, completes, sink_active,
                     self.rotary.tables(state.n_tokens, c),
                     kernels.attention_bias(valid, c, base, offset, group, dtype))
        if starts:
            plan.rope_fam_k = self.rotary.tables(tau * B - self.R, self.R)
            plan.rope_fam_q = self.rotary.tables((tau + 1) * B - self.N, self.N)
        if completes and self.N:
            plan.fam_valid = torch.zeros(used, dtype=torch.bool, device=self.param.device)
            plan.fam_valid[self.S: self.S + self.N] = True
            plan.fam_valid[base: base + B] = True
            plan.fam_bias = kernels.attention_bias(plan.fam_valid, self.N, None, 0, group, dtype)
        return plan

    def _layer(self, l: int, layer, x: torch.Tensor, state: State, plan: "_Plan"):
        """One decoder layer for the chunk's tokens and (when due) the FAM rows; returns (x, F^l_tau), or
        for memformer (x, S^l_tau) once the block is complete."""
        n, r, c = self.N, self.R, plan.c
        if plan.starts:
            memory = state.fam[l] if n else state.slots[l].to(x.dtype)
            rows = layer.input_layernorm(torch.cat([memory, x]))
        else:
            rows = layer.input_layernorm(x)
        q, k, v = self._project(layer, rows)  # (H|Hkv, rows, D)
        if plan.starts:
            state.k[l][:, self.S: self.head] = rotate(k[:, :r], *plan.rope_fam_k)
            state.v[l][:, self.S: self.head] = v[:, :r]
            if n:
                state.q_fam[l] = rotate(q[:, :n], *plan.rope_fam_q)
            q, k, v = q[:, r:], k[:, r:], v[:, r:]
        if state.recall is not None:
            state.recall.observe(l, q, k)
        if self.S and state.n_tokens < self.S:
            first = min(self.S - state.n_tokens, c)
            state.sink_raw[l][:, state.n_tokens: state.n_tokens + first] = k[:, :first]
            state.v[l][:, state.n_tokens: state.n_tokens + first] = v[:, :first]  # values need no rotation
        q, k = rotate(q, *plan.rope), rotate(k, *plan.rope)
        lo = plan.base + plan.offset
        state.k[l][:, lo: lo + c] = k
        state.v[l][:, lo: lo + c] = v
        keys, values = state.k[l][:, : plan.used], state.v[l][:, : plan.used]
        attn = kernels.block_attention(q, keys, values, plan.valid, plan.base, plan.offset, self.scale, plan.bias)
        if self.K:
            return self._write_slots(l, state, plan, self._finish(layer, x, attn))
        if not plan.completes:
            return self._finish(layer, x, attn), None
        attn_f = kernels.block_attention(state.q_fam[l], keys, values, plan.fam_valid, None, 0, self.scale,
                                         plan.fam_bias)
        first_update = state.fam_updates == 0 and self.config.fam_zero_residual
        residual_f = torch.zeros_like(state.fam[l]) if first_update else state.fam[l]
        out = self._finish(layer, torch.cat([residual_f, x]), torch.cat([attn_f, attn], dim=1))
        fam = out[:n]
        if self.config.fam_keep_norm:
            fam = _keep_norm(fam, state.fam[l])
        return out[n:], fam

    def _write_slots(self, l: int, state: State, plan: "_Plan", out: torch.Tensor):
        """Memformer writer: fold this chunk's outputs into the slots' running softmax; at the end of the
        block, return the updated slots of layer l (famcli.memformer)."""
        acc = None if plan.offset == 0 else (state.w_max[l], state.w_sum[l], state.w_acc[l])
        acc = self.writer.accumulate(l, state.slots[l], out, acc)
        if not plan.completes:
            state.w_max[l], state.w_sum[l], state.w_acc[l] = acc
            return out, None
        return out, self.writer.update(l, state.slots[l], acc)

    def _project(self, layer, h: torch.Tensor):
        """(rows, d) normed hidden -> q (H, rows, D), k and v (Hkv, rows, D)."""
        a, r, D = layer.self_attn, h.shape[0], self.head_dim
        qkv = self._fused_product(a, h)
        if qkv is not None:
            q, k, v = qkv.split([self.n_heads * D, self.n_kv * D, self.n_kv * D], dim=-1)
            q, k, v = q.view(r, self.n_heads, D), k.view(r, self.n_kv, D), v.view(r, self.n_kv, D)
        else:
            q = a.q_proj(h).view(r, self.n_heads, D)
            k = a.k_proj(h).view(r, self.n_kv, D)
            v = a.v_proj(h).view(r, self.n_kv, D)
        if hasattr(a, "q_norm"):
            q, k = a.q_norm(q), a.k_norm(k)
        return q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)

    def _finish(self, layer, residual: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        """Output projection, residual, MLP: attn (H, rows, D) -> (rows, d)."""
        h = residual + self._linear(layer.self_attn.o_proj, attn.transpose(0, 1).reshape(residual.shape[0], -1))
        return h + self._mlp(layer, layer.post_attention_layernorm(h))

    def _mlp(self, layer, x: torch.Tensor) -> torch.Tensor:
        """The layer's MLP; gate and up projections as one matrix product when they could be fused."""
        gate_up = self._fused_product(layer.mlp, x)
        if gate_up is None:
            return layer.mlp(x)
        gate, up = gate_up.chunk(2, dim=-1)
        return layer.mlp.down_proj(layer.mlp.act_fn(gate) * up)  # fp32 even with --dtype int8 (famcli.quant)

    def _fused_product(self, owner, x: torch.Tensor) -> torch.Tensor | None:
        """x through the fused q/k/v or gate/up weight of `owner` (int8 with --dtype int8); None when the
        layers are not fused (training, LoRA-wrapped layers)."""
        fused = None if torch.is_grad_enabled() else _fused(owner)
        if fused is None:
            return None
        if self.int8:
            first = getattr(owner, _fused_names(owner)[0])  # the fused layers share their input's range
            return int8_linear(owner, "_famcli_int8", *fused, self._x_max(first))(x)
        return torch.nn.functional.linear(x, *fused)

    def _linear(self, module, x: torch.Tensor) -> torch.Tensor:
        if self.int8 and isinstance(module, torch.nn.Linear) and not torch.is_grad_enabled():
            return int8_linear(module, "_famcli_int8", module.weight, module.bias, self._x_max(module))(x)
        return module(x)

    def _x_max(self, module) -> torch.Tensor | None:
        """The calibrated input range of a layer linear map (famcli.quant.calibrate, when the model loads)."""
        return getattr(self.model, "_famcli_x_max", {}).get(id(module))

    def _place_sink(self, state: State, plan: "_Plan") -> None:
        """Rotate the kept first tokens to the positions just before the window (StreamingLLM)."""
        window_start = (plan.tau - self.lookback) * self.config.block_size
        cos, sin = self.rotary.tables(window_start - self.S, self.S)
        for l in range(self.n_layers):
            state.k[l][:, : self.S] = rotate(state.sink_raw[l], cos, sin)

    # ----- saving ------------------------------------------------------------------------------

    def save_state(self, state: State, path, identity: dict | None = None, recall=None) -> None:
        """Write the complete memory state, and the recall index if given, to a safetensors file (no pickle)."""
        from safetensors.torch import save_file

        from famcli.outputs import atomic

        used = self.buffer_len if state.n_tokens >= self.slots * self.config.block_size else \
            self.head + state.n_tokens
        tensors = {name: t.contiguous() for name, t in state.tensors().items()}
        tensors["k"] = state.k[:, :, :used].contiguous()
        tensors["v"] = state.v[:, :, :used].contiguous()
        meta = {"format": STATE_FORMAT, "config": self.config.to_json(),
                "n_tokens": str(state.n_tokens), "fam_updates": str(state.fam_updates),
                "model": json.dumps(identity or {}, sort_keys=True), "extra": json.dumps(state.extra)}
        if recall is not None:
            tensors |= {name: t.contiguous() for name, t in recall.tensors().items()}
            meta["recall"] = recall.metadata()
        with atomic(path) as tmp:  # a kill mid-write never leaves half a state file
            save_file(tensors, str(tmp), metadata=meta)

    def load_state(self, path, identity: dict | None = None) -> State:
        """A saved state; its recall index, if the file has one, comes back as `state.recall` (detach it
        before feeding more tokens that should not be indexed)."""
        from safetensors import SafetensorError, safe_open

        not_state = f"{path} is not a famcli state file (one written by --save-state)"
        try:
            with safe_open(str(path), framework="pt", device=str(self.param.device)) as f:
                meta = f.metadata() or {}
                if meta.get("format") != STATE_FORMAT:
                    raise ValueError(not_state)
                saved = MemoryConfig.from_dict(json.loads(meta["config"]))
                if saved != self.config:
                    raise ValueError(f"{path} was saved with memory {saved.to_json()}, not {self.config.to_json()}")
                if identity is not None and json.loads(meta.get("model", "{}")) != identity:
                    raise ValueError(f"{path} was saved with a different model")
                tensors = {name: f.get_tensor(name) for name in f.keys()}
        except (SafetensorError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"{not_state}: {str(exc).splitlines()[0][:120]}") from None
        state = self.new_state()
        used = tensors["k"].shape[2]
        state.k[:, :, :used] = tensors["k"]
        state.v[:, :, :used] = tensors["v"]
        for name in OPTIONAL:
            if name in tensors:
                setattr(state, name, tensors[name].to(torch.float32 if name in FP32 else self.param.dtype))
        state.n_tokens = int(meta["n_tokens"])
        state.fam_updates = int(meta["fam_updates"])
        state.extra = json.loads(meta.get("extra", "{}"))
        if "recall" in meta:
            from famcli.recall import RecallIndex

            recall = {name: t for name, t in tensors.items() if name.startswith("recall.")}
            state.recall = RecallIndex.from_saved(meta["recall"], recall, self.n_layers, self.model.config.vocab_size)
        return state


@dataclass
class _Plan:
    tau: int
    offset: int
    c: int
    base: int
    used: int
    valid: torch.Tensor
    fam_valid: torch.Tensor | None
    starts: bool
    completes: bool
    sink_active: bool
    rope: tuple  # (cos, sin) of the chunk's tokens
    bias: torch.Tensor | None  # the block queries' mask, prepared once for every layer
    rope_fam_k: tuple | None = None  # positions of the previous FAM (keys) ...
    rope_fam_q: tuple | None = None  # ... and of the FAM being computed (queries)
    fam_bias: torch.Tensor | None = None


def _keep_norm(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """`new` (N, d) rescaled row by row to the norms of `old` (computed in fp32: bf16 rounding would drift)."""
    new32 = new.float()
    scale = old.float().norm(dim=-1, keepdim=True) / new32.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    return (new32 * scale).to(new.dtype)


def _fuse(owner, names: tuple[str, ...]) -> None:
    """Put linear layers that read the same input side by side in one weight (and bias) tensor, so inference
    does one wider matrix product instead of several narrow ones: q/k/v, and a gated MLP's gate and up. No copy
    is kept: the modules' own weights become views of the fused tensor, so in-place changes (merging an
    adapter) reach it. Layers that are not plain nn.Linear (e.g. LoRA-wrapped during training) stay apart."""
    layers = [getattr(owner, n, None) for n in names]
    if not all(isinstance(m, torch.nn.Linear) for m in layers):
        return
    if len({m.bias is None for m in layers}) != 1 or len({(m.weight.dtype, m.weight.device) for m in layers}) != 1:
        return
    if _fused(owner) is not None:
        return
    with torch.no_grad():
        weight = torch.cat([m.weight for m in layers])
        bias = None if layers[0].bias is None else torch.cat([m.bias for m in layers])
    at = 0
    for m in layers:
        rows = m.weight.shape[0]
        m.weight = torch.nn.Parameter(weight[at:at + rows], requires_grad=m.weight.requires_grad)
        if bias is not None:
            m.bias = torch.nn.Parameter(bias[at:at + rows], requires_grad=m.bias.requires_grad)
        at += rows
    owner._famcli_fused = (names, weight, bias)


def _fused_names(owner) -> tuple[str, ...]:
    return owner._famcli_fused[0]


def _fused(owner):
    """The fused (weight, bias) of `owner` when it is still the storage of its layers' weights, else None."""
    entry = getattr(owner, "_famcli_fused", None)
    if entry is None:
        return None
    names, weight, bias = entry
    first = getattr(owner, names[0], None)
    if not isinstance(first, torch.nn.Linear) or first.weight.data_ptr() != weight.data_ptr():
        return None
    return weight, bias
