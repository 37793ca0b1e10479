"""The model's own layer math, as the engine runs it on rows of hidden states (everything but attention).

Linear layers that read the same input (q/k/v, a gated MLP's gate and up) are fused into one wider matrix
product for reading; with `--dtype int8` every layer product (the fused ones, the attention output and the
MLP's down projection) runs in int8 (famcli.core.quant).
"""

from __future__ import annotations

import torch

from famcli.core.quant import ALPHA, DOWN_ALPHA, int8_linear


class LayerMath:
    """Projections, output projection and MLP of one loaded model's decoder layers."""

    def __init__(self, model, n_heads: int, n_kv: int, head_dim: int, exact: bool = False):
        """exact: the products in the model's own dtype even when it reads in int8 (answers)."""
        self.model, self.n_heads, self.n_kv, self.head_dim = model, n_heads, n_kv, head_dim
        self.int8 = bool(getattr(model, "_famcli_int8", False)) and not exact  # --dtype int8 (famcli.core.quant)
        for layer in model.model.layers:
            fuse(layer.self_attn, ("q_proj", "k_proj", "v_proj"))
            if hasattr(layer.mlp, "down_proj") and hasattr(layer.mlp, "act_fn"):
                fuse(layer.mlp, ("gate_proj", "up_proj"))

    def project(self, layer, h: torch.Tensor):
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

    def finish(self, layer, residual: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        """Output projection, residual, MLP: attn (H, rows, D) -> (rows, d)."""
        h = residual + self._linear(layer.self_attn.o_proj, attn.transpose(0, 1).reshape(residual.shape[0], -1))
        return h + self._mlp(layer, layer.post_attention_layernorm(h))

    def _mlp(self, layer, x: torch.Tensor) -> torch.Tensor:
        gate_up = self._fused_product(layer.mlp, x)
        if gate_up is None:
            return layer.mlp(x)
        gate, up = gate_up.chunk(2, dim=-1)
        return self._linear(layer.mlp.down_proj, layer.mlp.act_fn(gate) * up, DOWN_ALPHA)

    def _fused_product(self, owner, x: torch.Tensor) -> torch.Tensor | None:
        """x through the fused weight of `owner`; None when its layers are not fused (training, LoRA)."""
        fused = None if torch.is_grad_enabled() else _fused(owner)
        if fused is None:
            return None
        if self.int8:
            first = getattr(owner, owner._famcli_fused[0][0])  # the fused layers share their input's range
            return int8_linear(owner, "_famcli_int8_weights", *fused, self._x_max(first))(x)
        return torch.nn.functional.linear(x, *fused)

    def _linear(self, module, x: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
        if self.int8 and isinstance(module, torch.nn.Linear) and not torch.is_grad_enabled():
            return int8_linear(module, "_famcli_int8_weights", module.weight, module.bias, self._x_max(module), alpha)(x)
        return module(x)

    def _x_max(self, module) -> torch.Tensor | None:
        """The calibrated input range of a linear map (famcli.core.quant.calibrate, when the model loads)."""
        return getattr(self.model, "_famcli_x_max", {}).get(id(module))


def fuse(owner, names: tuple[str, ...]) -> None:
    """Put linear layers that read the same input side by side in one weight (and bias) tensor, so reading
    does one wider matrix product instead of several narrow ones. No copy is kept: the modules' own weights
    become views of the fused tensor, so in-place changes (merging an adapter) reach it. Layers that are not
    plain nn.Linear (e.g. LoRA-wrapped during training) stay apart."""
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
