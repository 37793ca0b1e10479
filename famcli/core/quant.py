"""int8 layer weights for CPUs without fast bf16 (`--dtype int8`).

The layer's linear maps keep their weights as int8, one scale per output channel, and quantise their input
activations on the fly (dynamic quantisation); products run in torch's quantised CPU kernels and come back in
fp32: oneDNN where it can use AMX, fbgemm elsewhere (`engine`). Everything else (norms, rotary, attention, the
memory, the vocabulary head) stays fp32.

One scale for a whole activation matrix is too coarse for a language model: a few hidden channels carry
values far above the rest, and some tokens carry peaks far above other tokens (measured on the default model:
+7% next-token loss from the MLP's down projection alone). Two things tame it. The products are smoothed, as
SmoothQuant does (arXiv 2211.10438): each input channel j is divided by s_j = max|x_j|^a / max|W_j|^(1-a) and
the weight's column j multiplied by it, which leaves the product unchanged and moves the channel outliers into
the weights, where per-channel scales absorb them; max|x_j| comes from one short calibration read of a fixed
text when the model is loaded (cached per weights). And every row (token) is divided by its own peak before
the product and multiplied by it after, so the kernels' one activation scale per product becomes one scale per
token: a token with a peak no longer coarsens every other token's steps. With both, all four layer products
(q/k/v, attention output, gate/up and down) run in int8 at +0.75-0.92% next-token loss against fp32 on
held-out book text (bf16: +0.02%), with the same pass-key answers (docs/results.md).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

CALIBRATION_TEXT = (
    "The committee met on a grey Tuesday morning to review the accounts of the harbour company. Mrs. Ellery "
    "read the report aloud: revenue had risen by twelve per cent, but the cost of repairing the north pier, "
    "damaged in the storms of March, had consumed most of the gain. \"We cannot go on like this,\" said the "
    "chairman, tapping the table. \"Either the town pays its share, or we close the pier.\" Outside, the gulls "
    "wheeled over the fishing boats, and a boy ran along the quay with a basket of bread. In the afternoon "
    "the auditors arrived from the city; they asked for the ledgers of 1887 and 1888, the letters from the "
    "bank, and a list of every ship that had paid its dues. By evening they had found the error: a column of "
    "figures copied twice, which made the company look richer than it was. 1. Check the totals. 2. Sign the "
    "minutes. 3. Send the letter to the mayor before Friday, with a copy to the newspaper.\n\n")


def calibrate(model, tokenizer, cache: Path | None = None) -> dict[int, torch.Tensor]:
    """Per input channel, the largest |x| each layer linear map sees while the model reads CALIBRATION_TEXT
    (keyed by id of the module). With `cache` (a file for this model's weights), read from it when it is
    there and written to it when not: the read costs ~1.4 s of every start otherwise."""
    names = {id(m): name for name, m in model.named_modules()}
    if cache is not None and cache.is_file():
        from safetensors.torch import load_file

        try:
            stored = load_file(str(cache))
        except (OSError, RuntimeError):
            stored = {}
        by_name = dict(model.named_modules())
        if stored and all(name in by_name for name in stored):
            return {id(by_name[name]): t for name, t in stored.items()}
    seen = _calibrate(model, tokenizer)
    if cache is not None:
        from safetensors.torch import save_file

        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + f".{os.getpid()}.tmp")
            save_file({names[i]: t.contiguous() for i, t in seen.items()}, str(tmp))
            tmp.replace(cache)
        except OSError:  # a cache that cannot be written only costs time
            pass
    return seen


def _calibrate(model, tokenizer) -> dict[int, torch.Tensor]:
    ids = tokenizer.encode(CALIBRATION_TEXT * 2, add_special_tokens=False)
    seen: dict[int, torch.Tensor] = {}

    def hook(module, args):
        x = args[0].detach().float().reshape(-1, args[0].shape[-1]).abs().amax(dim=0)
        seen[id(module)] = torch.maximum(seen[id(module)], x) if id(module) in seen else x

    handles = [m.register_forward_pre_hook(hook) for layer in model.model.layers for m in layer.modules()
               if isinstance(m, torch.nn.Linear)]
    try:
        with torch.no_grad():
            model(torch.tensor([ids]))
    finally:
        for h in handles:
            h.remove()
    return seen


ALPHA = 0.8  # the smoothing strength for products of the normed hidden state and of the attention output
DOWN_ALPHA = 0.5  # and for the MLP's down projection (its gated input); measured in docs/results.md


class Int8Linear:
    """y = x W^T + b with W int8 per output channel, smoothed by the input channels' calibrated range, and
    each row of x quantised on its own scale; built from a float weight, rebuilt when the weight changes in
    place."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, x_max: torch.Tensor | None = None,
                 alpha: float = ALPHA):
        w = weight.detach().float()
        self.smooth = None
        if x_max is not None:
            s = x_max.clamp_min(1e-5) ** alpha / w.abs().amax(dim=0).clamp_min(1e-5) ** (1 - alpha)
            self.smooth, w = 1.0 / s, w * s
        scale = (w.abs().amax(dim=1) / 127).clamp_min(1e-12).double()
        with warnings.catch_warnings():  # torch marks its quantised tensors deprecated (its kernels stay)
            warnings.simplefilter("ignore", UserWarning)
            q = torch.quantize_per_channel(w, scale, torch.zeros_like(scale, dtype=torch.long), 0, torch.qint8)
            self.packed = _prepack(q)
        self.bias = None if bias is None else bias.detach().float()  # added after the rows are scaled back
        self.version = weight._version  # in-place changes (an adapter merged later) make it stale
        self.out_features = w.shape[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape, dtype = x.shape, x.dtype
        x = x.reshape(-1, shape[-1]).float()
        x = x * self.smooth if self.smooth is not None else x.clone()
        # each row's peak |x| (amax and amin: 3x faster than abs().amax())
        peak = torch.maximum(x.amax(dim=1, keepdim=True), -x.amin(dim=1, keepdim=True)).clamp_min(1e-30)
        # reduce_range: 7-bit activations, so AVX2's 16-bit pair sums (vpmaddubsw) cannot saturate
        y = torch.ops.quantized.linear_dynamic(x.div_(peak), self.packed, True).mul_(peak)
        if self.bias is not None:
            y.add_(self.bias)
        return y.reshape(*shape[:-1], self.out_features).to(dtype)


def int8_linear(owner, key: str, weight: torch.Tensor, bias: torch.Tensor | None,
                x_max: torch.Tensor | None = None, alpha: float = ALPHA) -> Int8Linear:
    """The int8 form of `weight`, cached on `owner` under `key` until the weight changes in place."""
    cached = getattr(owner, key, None)
    if cached is None or cached.version != weight._version:
        cached = Int8Linear(weight, bias, x_max, alpha)
        setattr(owner, key, cached)
    return cached


def _prepack(q: torch.Tensor):
    """q packed for the faster of torch's quantised kernels on this CPU (`engine`; calls dispatch on the
    packed weight's kind, the process-wide setting is left as it was)."""
    before = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine()
    try:
        return torch.ops.quantized.linear_prepack(q, None)
    finally:
        torch.backends.quantized.engine = before


def engine() -> str:
    """oneDNN where it can use AMX (1.9x fbgemm at a block's 256 rows), else fbgemm: alike at block shape
    with AVX2 or AVX-512 VNNI and 1.5-4x faster than oneDNN at 1-16 rows (decoding, streamed lines); measured
    in docs/results.md. An instruction-set cap on oneDNN (ONEDNN_MAX_CPU_ISA) without AMX counts as none."""
    engines = torch.backends.quantized.supported_engines
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL").upper()
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)() and ("AMX" in cap or cap in ("ALL", "DEFAULT"))
    if "onednn" in engines and (amx or "fbgemm" not in engines):
        return "onednn"
    return "fbgemm" if "fbgemm" in engines else torch.backends.quantized.engine


def supported() -> bool:
    """Whether this torch build has the quantised CPU kernels."""
    return "fbgemm" in torch.backends.quantized.supported_engines or \
        "onednn" in torch.backends.quantized.supported_engines
