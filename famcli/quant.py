"""int8 layer weights for CPUs without fast bf16 (`--dtype int8`).

The layer's linear maps keep their weights as int8, one scale per output channel, and quantise their input
activations on the fly (dynamic quantisation, one scale per product); products run in torch's quantised CPU
kernels (fbgemm / oneDNN, with VNNI where the CPU has it) and come back in fp32. Everything else (norms,
rotary, attention, the memory, the vocabulary head) stays fp32.

One scale for a whole activation matrix is too coarse for a language model: a few hidden channels carry
values far above the rest (measured on the default model: +7% next-token loss from the MLP's down
projection alone). So the products are smoothed first, as SmoothQuant does (arXiv 2211.10438): each input
channel j is divided by s_j = sqrt(max|x_j| / max|W_j|) and the weight's column j multiplied by it, which
leaves the product unchanged and moves the outliers into the weights, where per-channel scales absorb them.
max|x_j| comes from one short calibration read of a fixed text when the model is loaded. That brings the
attention's q/k/v and output products and the MLP's gate/up product within 0.5% of fp32's loss; the MLP's down
projection stays fp32: its input (the gated MLP activation) has token-specific peaks that neither smoothing nor
reading the peak tokens apart in fp32 tamed (+4-5% loss measured; docs/benchmarks.md).
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


class Int8Linear:
    """y = x W^T + b with W int8 per output channel, smoothed by the input channels' calibrated range;
    built from a float weight, rebuilt when the weight changes in place."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, x_max: torch.Tensor | None = None):
        w = weight.detach().float()
        self.smooth = None
        if x_max is not None:
            s = (x_max.clamp_min(1e-5) / w.abs().amax(dim=0).clamp_min(1e-5)).sqrt()
            self.smooth, w = 1.0 / s, w * s
        scale = (w.abs().amax(dim=1) / 127).clamp_min(1e-12).double()
        with warnings.catch_warnings():  # torch marks its quantised tensors deprecated (its kernels stay)
            warnings.simplefilter("ignore", UserWarning)
            q = torch.quantize_per_channel(w, scale, torch.zeros_like(scale, dtype=torch.long), 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(q, None if bias is None else bias.detach().float())
        self.version = weight._version  # in-place changes (an adapter merged later) make it stale
        self.out_features = w.shape[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape, dtype = x.shape, x.dtype
        x = x.reshape(-1, shape[-1]).float()
        x = x * self.smooth if self.smooth is not None else x.contiguous()
        y = torch.ops.quantized.linear_dynamic(x, self.packed, True)
        return y.reshape(*shape[:-1], self.out_features).to(dtype)


def int8_linear(owner, key: str, weight: torch.Tensor, bias: torch.Tensor | None,
                x_max: torch.Tensor | None = None) -> Int8Linear:
    """The int8 form of `weight`, cached on `owner` under `key` until the weight changes in place."""
    cached = getattr(owner, key, None)
    if cached is None or cached.version != weight._version:
        cached = Int8Linear(weight, bias, x_max)
        setattr(owner, key, cached)
    return cached


def supported() -> bool:
    """Whether this torch build has the quantised CPU kernels."""
    return "fbgemm" in torch.backends.quantized.supported_engines or \
        "onednn" in torch.backends.quantized.supported_engines
