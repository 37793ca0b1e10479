"""A native Llama-family decoder and tokenizer for a quick start (issue 17: `famcli ask` under 3 s).

Importing transformers' modeling code costs about 2 s on a laptop CPU before any weight is read (its
activation, hub-kernel and distributed imports), and building a tokenizer through AutoTokenizer another 2 s.
famcli's engine only runs the model's modules (famcli.core.layers), so for the architectures it supports it can
build them itself: the same module names and math as transformers' Llama, Mistral and Qwen2 (RMSNorm, rotary
embedding with the default rope, SiLU-gated MLP, grouped-query attention), the weights taken memory-mapped
from model.safetensors, and a tokenizer straight from tokenizer.json (the `tokenizers` library) with the chat
template rendered by jinja2 as transformers renders it. Folders this does not fit load through transformers.
Tests check both against transformers: the same logits, the same ids, the same chat turns.

Notation: T tokens, d hidden size, H / Hkv query / key-value heads, D head size.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from famcli.core.positions import rotate

ARCHS = ("llama", "mistral", "qwen2")
SPECIAL = ("bos_token", "eos_token", "unk_token", "pad_token")


class Config(SimpleNamespace):
    """config.json as attributes (what famcli reads of a model's configuration)."""

    def to_dict(self) -> dict:
        return dict(vars(self))

    @property
    def rope_theta(self) -> float:
        params = getattr(self, "rope_parameters", None) or {}
        return float(params.get("rope_theta", vars(self).get("rope_theta_", 10000.0)))


def read_config(folder: Path) -> Config | None:
    """The folder's configuration when the native model supports it, else None."""
    raw = json.loads((folder / "config.json").read_text())
    if "rope_theta" in raw:  # transformers 4 layout: rope_theta and rope_scaling at the top
        raw["rope_theta_"] = raw.pop("rope_theta")
    rope = raw.get("rope_parameters") or raw.get("rope_scaling") or {}
    if raw.get("model_type") not in ARCHS or rope.get("rope_type", rope.get("type", "default")) != "default" \
            or raw.get("hidden_act", "silu") != "silu" or raw.get("partial_rotary_factor", 1.0) != 1.0:
        return None
    raw.setdefault("num_key_value_heads", raw["num_attention_heads"])
    raw["head_dim"] = raw.get("head_dim") or raw["hidden_size"] // raw["num_attention_heads"]
    return Config(**raw)


class Linear(torch.nn.Linear):
    """nn.Linear without the random initialisation: the weights are replaced by the file's at once (and
    initialising 135M parameters would cost most of a second)."""

    def reset_parameters(self) -> None:
        pass


class Embedding(torch.nn.Embedding):
    def reset_parameters(self) -> None:
        pass


class RMSNorm(torch.nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


class Rotary(torch.nn.Module):
    """The default rotary embedding's inverse frequencies (computed as transformers computes them)."""

    def __init__(self, c: Config):
        super().__init__()
        steps = torch.arange(0, c.head_dim, 2, dtype=torch.int64).float() / c.head_dim
        self.register_buffer("inv_freq", 1.0 / (c.rope_theta ** steps), persistent=False)
        self.attention_scaling = 1.0

    def tables(self, T: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = torch.arange(T, dtype=torch.float32, device=self.inv_freq.device)[:, None] * self.inv_freq[None]
        emb = torch.cat((freqs, freqs), dim=-1)  # (T, D)
        return emb.cos().to(dtype), emb.sin().to(dtype)


class Attention(torch.nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        d, D, H, Hkv = c.hidden_size, c.head_dim, c.num_attention_heads, c.num_key_value_heads
        qkv_bias = c.model_type == "qwen2" or bool(getattr(c, "attention_bias", False))
        o_bias = c.model_type != "qwen2" and bool(getattr(c, "attention_bias", False))
        self.q_proj = Linear(d, H * D, bias=qkv_bias)
        self.k_proj = Linear(d, Hkv * D, bias=qkv_bias)
        self.v_proj = Linear(d, Hkv * D, bias=qkv_bias)
        self.o_proj = Linear(H * D, d, bias=o_bias)
        self.shape, self.scaling = (H, Hkv, D), D ** -0.5

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        (H, Hkv, D), T = self.shape, x.shape[0]
        q = rotate(self.q_proj(x).view(T, H, D).transpose(0, 1), cos, sin)  # (H, T, D)
        k = rotate(self.k_proj(x).view(T, Hkv, D).transpose(0, 1), cos, sin)  # (Hkv, T, D)
        v = self.v_proj(x).view(T, Hkv, D).transpose(0, 1)
        k, v = k.repeat_interleave(H // Hkv, 0), v.repeat_interleave(H // Hkv, 0)
        # 4-D (batch of one): torch's fused CPU kernel (flash, no T x T scores) takes only 4-D inputs; 3-D
        # ones fall back to the math path, which holds H x T x T scores (6 GB and 5x slower at 8k tokens)
        out = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True, scale=self.scaling)[0]
        return self.o_proj(out.transpose(0, 1).reshape(T, H * D))


class Mlp(torch.nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        bias = bool(getattr(c, "mlp_bias", False))
        self.gate_proj = Linear(c.hidden_size, c.intermediate_size, bias=bias)
        self.up_proj = Linear(c.hidden_size, c.intermediate_size, bias=bias)
        self.down_proj = Linear(c.intermediate_size, c.hidden_size, bias=bias)
        self.act_fn = torch.nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class Layer(torch.nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.self_attn, self.mlp = Attention(c), Mlp(c)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, x: torch.Tensor, cos, sin) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(torch.nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.embed_tokens = Embedding(c.vocab_size, c.hidden_size)
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.rotary_emb = Rotary(c)


class CausalLM(torch.nn.Module):
    """`model(ids[None]).logits`, `model.model.layers[l].self_attn.q_proj`, ... as in transformers."""

    def __init__(self, c: Config):
        super().__init__()
        self.config = c
        self.model = Decoder(c)
        self.lm_head = Linear(c.hidden_size, c.vocab_size, bias=False)

    def forward(self, input_ids: torch.Tensor, logits_to_keep: int = 0) -> SimpleNamespace:
        """input_ids (1, T) -> logits (1, T, V) (the last `logits_to_keep` only, if given), causal attention
        over the whole sequence."""
        x = self.model.embed_tokens(input_ids[0])  # (T, d)
        cos, sin = self.model.rotary_emb.tables(x.shape[0], x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return SimpleNamespace(logits=self.lm_head(self.model.norm(x[-logits_to_keep:]))[None])


def load_model(folder: Path, config: Config, dtype: torch.dtype) -> CausalLM | None:
    """The model with the folder's weights (memory-mapped, converted only where the dtype differs); None when
    the weights do not match the modules one to one."""
    from safetensors.torch import load_file

    model = CausalLM(config)  # parameters allocated, not initialised
    state = {name: t.to(dtype) if t.is_floating_point() else t for name, t in
             load_file(folder / "model.safetensors").items()}
    tied = getattr(config, "tie_word_embeddings", False)
    if tied:
        state.setdefault("lm_head.weight", state.get("model.embed_tokens.weight"))
    if set(state) != set(model.state_dict()) or any(v is None for v in state.values()):
        return None
    model.load_state_dict(state, assign=True)
    model.model.rotary_emb = Rotary(config)  # its buffer is computed, not stored
    if tied:
        model.lm_head.weight = model.model.embed_tokens.weight
    return model


class Tokenizer:
    """tokenizer.json through the `tokenizers` library, with the folder's special tokens and chat template:
    the part of transformers' tokenizer API famcli uses."""

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer as Backend

        self.backend_tokenizer = Backend.from_file(str(folder / "tokenizer.json"))
        settings = json.loads((folder / "tokenizer_config.json").read_text())
        for name in SPECIAL:
            value = settings.get(name)
            token = value["content"] if isinstance(value, dict) else value
            setattr(self, name, token)
            setattr(self, f"{name}_id", None if token is None else self.backend_tokenizer.token_to_id(token))
        template = folder / "chat_template.jinja"
        self.chat_template = template.read_text() if template.is_file() else settings.get("chat_template")
        self.name_or_path = str(folder)

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self.backend_tokenizer.get_vocab(with_added_tokens=True)

    def convert_tokens_to_ids(self, token: str) -> int | None:
        """The id of a token (None, as for transformers' fast tokenizers' unknown ones, when the vocabulary
        lacks it and there is no unknown token)."""
        found = self.backend_tokenizer.token_to_id(token)
        return found if found is not None else self.unk_token_id

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self.backend_tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        return self.backend_tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, messages: list[dict], tokenize: bool = True, add_generation_prompt: bool = False,
                            **extra):
        """Rendered as transformers renders chat templates (sandboxed jinja2, trimmed blocks)."""
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        if not self.chat_template:
            raise ValueError("this tokenizer has no chat template")

        def raise_exception(message):
            raise ValueError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.globals["raise_exception"] = raise_exception
        text = env.from_string(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt,
            **{name: getattr(self, name) for name in SPECIAL}, **extra)
        return self.encode(text, add_special_tokens=False) if tokenize else text
