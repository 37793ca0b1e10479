"""Memory adapters: the LoRA weights and the memory's own learned weights that `famcli train` produces.

One safetensors file: per adapted linear layer `lora.<module>.A` (r, in) and `lora.<module>.B` (out, r);
and the memory's own learned weights, named by the memory (famcli.core.memory): for FAM (docs/design.md,
section 6) the prompt `fam_prompt` (N, d), for Memformer (section 7) the writer and initial slots
`memformer.<name>`. Its metadata holds JSON for the base model's identity,
the memory configuration it was trained with (whose mode says which memory it is for), the LoRA and
training configuration, a data summary and measurements.
At load the LoRA is merged into the weights (W += alpha/r * B A), so reading costs nothing extra.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from famcli.common.errors import AdapterError
from famcli.core.config import MemoryConfig

ADAPTER_FORMAT = "famcli-adapter-1"
SHIPPED = Path(__file__).parent.parent / "adapters"  # famcli/adapters: shipped with the package
SHAPE_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "vocab_size", "intermediate_size")


@dataclass
class Adapter:
    memory: dict[str, torch.Tensor]  # the memory's learned weights, as the memory names them
    lora: dict[str, tuple[torch.Tensor, torch.Tensor]]  # module name -> (A (r, in), B (out, r))
    scaling: float  # alpha / r
    config: MemoryConfig
    base: dict  # identity of the model it was trained on
    info: dict = field(default_factory=dict)  # training configuration, data, measurements
    path: Path | None = None

    @property
    def mode(self) -> str:
        return self.config.mode

    def memory_tensors(self) -> list[torch.Tensor]:
        return [self.memory[name] for name in sorted(self.memory)]

    @property
    def nbytes(self) -> int:
        tensors = [t for pair in self.lora.values() for t in pair] + self.memory_tensors()
        return sum(t.numel() * t.element_size() for t in tensors)

    @property
    def fingerprint(self) -> str:
        """Names the trained weights (for saved states): a hash of the memory's weights and the first
        LoRA pair."""
        import hashlib

        h = hashlib.sha256()
        for t in self.memory_tensors():
            h.update(t.float().numpy().tobytes())
        for a, b in list(self.lora.values())[:1]:
            h.update(a.float().numpy().tobytes())
            h.update(b.float().numpy().tobytes())
        return h.hexdigest()[:16]

    def check(self, identity: dict) -> None:
        """Refuse a model of a different shape; the adapter would silently garble it."""
        wrong = [k for k in SHAPE_KEYS if self.base.get(k) != identity.get(k)]
        if wrong:
            where = self.path or "the adapter"
            raise AdapterError(f"{where} was trained for {self.base.get('name', 'another model')} "
                               f"({', '.join(f'{k}={self.base.get(k)}' for k in wrong)}), not this model")

    def merge_into(self, model: torch.nn.Module) -> None:
        """W += scaling * B @ A for every adapted layer, in fp32, written back in the model's dtype."""
        with torch.no_grad():
            for name, (a, b) in self.lora.items():
                try:
                    weight = model.get_submodule(name).weight
                except AttributeError as exc:
                    raise AdapterError(f"adapter layer {name} is not in this model") from exc
                if weight.shape != (b.shape[0], a.shape[1]):
                    raise AdapterError(f"adapter layer {name} has shape {(b.shape[0], a.shape[1])}, "
                                       f"the model's is {tuple(weight.shape)}")
                delta = self.scaling * (b.float() @ a.float())
                weight.copy_((weight.float() + delta.to(weight.device)).to(weight.dtype))


def save_adapter(path, memory: dict[str, torch.Tensor], lora: dict, scaling: float, config: MemoryConfig,
                 base: dict, info: dict, dtype=torch.bfloat16) -> None:
    """`memory`: the memory's weights as it wants them stored (famcli.core.memory.base.Memory.weights(dtype))."""
    from safetensors.torch import save_file

    from famcli.common.outputs import atomic

    tensors = {name: t.detach().contiguous() for name, t in memory.items()}
    for name, (a, b) in lora.items():
        tensors[f"lora.{name}.A"] = a.detach().to(dtype).contiguous()
        tensors[f"lora.{name}.B"] = b.detach().to(dtype).contiguous()
    meta = {"format": ADAPTER_FORMAT, "memory": config.to_json(), "base": json.dumps(base, sort_keys=True),
            "scaling": repr(float(scaling)), "info": json.dumps(info, sort_keys=True)}
    with atomic(path) as tmp:  # never leave a half-written adapter behind
        save_file(tensors, str(tmp), metadata=meta)


MAX_SCALING = 1e3  # LoRA's alpha / r; training writes 2


def load_adapter(path) -> Adapter:
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise AdapterError(f"adapter not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != ADAPTER_FORMAT:
                raise AdapterError(f"{path} is not a famcli adapter")
            tensors = {name: f.get_tensor(name) for name in f.keys()}
        config = MemoryConfig.from_dict(json.loads(meta["memory"]))
        base, info, scaling = json.loads(meta["base"]), json.loads(meta.get("info", "{}")), float(meta["scaling"])
    except AdapterError:
        raise
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise AdapterError(f"cannot read adapter {path}: {str(exc).splitlines()[0][:160]}") from exc
    memory = {name: t for name, t in tensors.items() if not name.startswith("lora.")}
    missing = config.memory.check_weights(memory)
    if missing:
        raise AdapterError(f"{path} has {missing}")
    if not isinstance(base, dict) or not isinstance(info, dict):
        raise AdapterError(f"{path} is a damaged adapter: its base model and info must be objects")
    if not math.isfinite(scaling) or abs(scaling) > MAX_SCALING:
        raise AdapterError(f"{path} is a damaged adapter: LoRA scaling {scaling!r} (a finite number up to "
                           f"{MAX_SCALING:g} in size)")
    for name, t in tensors.items():
        if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
            raise AdapterError(f"{path} is a damaged adapter: {name} holds "
                               f"{'non-finite values' if t.is_floating_point() else t.dtype}")
    lora = {}
    for name in tensors:
        if name.startswith("lora.") and name.endswith((".A", ".B")):
            module = name[len("lora."):-len(".A")]
            a, b = tensors.get(f"lora.{module}.A"), tensors.get(f"lora.{module}.B")
            if a is None or b is None:
                raise AdapterError(f"{path} is a damaged adapter: layer {module} lacks its LoRA "
                                   f"{'A' if a is None else 'B'} matrix")
            if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[1]:
                raise AdapterError(f"{path} is a damaged adapter: layer {module} has LoRA matrices of shapes "
                                   f"{tuple(a.shape)} and {tuple(b.shape)}")
            lora[module] = (a, b)
    return Adapter(memory, lora, scaling, config, base, info, path)


def shipped_adapter(identity: dict, mode: str = "fam") -> Path | None:
    """The adapter shipped inside the package for exactly this model (same name and shapes) and this
    memory mode, if any."""
    from safetensors import safe_open

    for path in sorted(SHIPPED.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            if meta.get("format") == ADAPTER_FORMAT and json.loads(meta["base"]) == identity and \
                    json.loads(meta["memory"]).get("mode", "fam") == mode:
                return path
        except Exception:  # noqa: BLE001 - a damaged shipped file is reported when it is actually loaded
            continue
    return None
