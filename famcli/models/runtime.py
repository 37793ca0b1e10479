"""Putting a loaded model, an adapter and a memory configuration together into a ready engine.

Nothing here changes a model behind the caller's back: `resolve` only decides (the memory configuration and
the adapter a command runs with) and `with_adapter` returns a model with the adapter merged, as a copy when
the base model must stay (comparing memories with and without the adapter, as `famcli passkey` does).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

from famcli.common.errors import ConfigError
from famcli.core.adapter import Adapter, AdapterError, load_adapter, shipped_adapter
from famcli.core.config import ZERO_SHOT, MemoryConfig
from famcli.core.engine import Engine
from famcli.core.memory import memory_class, modes, trainable_modes
from famcli.models.loading import LoadedModel


def with_adapter(loaded: LoadedModel, adapter: Adapter | None, keep_base: bool = False) -> LoadedModel:
    """The model with the adapter's LoRA merged into its weights (W += alpha/r B A). With keep_base the merge
    goes into a copy and `loaded` stays the base model; otherwise `loaded`'s weights are changed and only the
    returned model should be used."""
    if adapter is None or loaded.adapter is adapter:
        return loaded
    if loaded.adapter is not None:
        raise AdapterError("this model already has an adapter merged; start from the base model")
    model = loaded.model
    if keep_base:
        model = copy.deepcopy(model)
        if hasattr(model, "_famcli_x_max"):  # int8 input ranges are keyed by module: carry them to the copy
            ranges = loaded.model._famcli_x_max
            model._famcli_x_max = {id(new): ranges[id(old)] for old, new in zip(loaded.model.modules(), model.modules())
                                   if id(old) in ranges}
    adapter.merge_into(model)
    return dataclasses.replace(loaded, model=model, adapter=adapter)


def find_adapter(loaded: LoadedModel, option: str | None, mode: str = "fam") -> Adapter | None:
    """`--adapter`: auto (the one shipped for this exact model and memory mode, if any), none, or a file."""
    option = option or "auto"
    if option == "none":
        return None
    path = shipped_adapter(loaded.identity, mode) if option == "auto" else Path(option)
    if path is None:
        return None
    adapter = load_adapter(path)
    adapter.check(loaded.identity)
    return adapter


def resolve(loaded: LoadedModel, memory: str, adapter_option: str | None = "auto", question: bool = False,
            **sizes) -> tuple[MemoryConfig, Adapter | None]:
    """The memory configuration a command runs with, and the adapter it needs merged (or None).

    `--memory auto` is fam when a FAM adapter is found (or the mode of an adapter file given); otherwise keep
    when the command knows its `question` before it reads (the memory keeps what the question asks about,
    docs/keep.md) and sink when it does not (an untrained memory hurts, see the README). Automatically found adapters are per mode and
    used only for their mode: sink, bswa and full then run the base model, so comparisons against them
    are fair; a file given with --adapter is merged for every mode, but its memory weights only serve
    the mode it was trained for. With an adapter, its block size, memory segments and memory length are
    the defaults (explicit sizes win, except a memory length its weights do not have)."""
    if memory not in ("auto", ZERO_SHOT, *modes()):
        raise ConfigError(f"unknown memory mode {memory!r} (choose auto, {', '.join(modes())} or {ZERO_SHOT})")
    option = adapter_option or "auto"
    if memory == ZERO_SHOT:
        memory, option = "fam", "none"
    adapter = loaded.adapter
    if option == "none" and adapter is not None and memory in trainable_modes():
        raise AdapterError("this model already has an adapter merged; use the base model for a zero-shot run")
    if adapter is None and option != "none":
        wanted = "fam" if memory == "auto" else memory
        if option != "auto" or wanted in trainable_modes():
            adapter = find_adapter(loaded, option, wanted)
    mode = memory if memory != "auto" else (adapter.mode if adapter is not None else "keep" if question else "sink")
    if adapter is not None and mode in trainable_modes() and adapter.mode != mode:
        where = adapter.path or "the adapter"
        raise AdapterError(f"{where} was trained for --memory {adapter.mode}, not {mode}")
    given = {k: v for k, v in sizes.items() if v is not None}
    if adapter is not None and mode == adapter.mode:
        base = adapter.config
        if "fam_length" in given and given["fam_length"] != base.fam_length:
            raise ConfigError(f"the adapter was trained with {base.memory.length_option} {base.fam_length}, "
                              f"not {given['fam_length']}")
        return base.replace(**given), adapter
    return MemoryConfig(mode=mode, **(memory_class(mode).defaults | given)), adapter


def prepare(loaded: LoadedModel, memory: str, adapter_option: str | None = "auto", question: bool = False,
            **sizes) -> tuple[LoadedModel, MemoryConfig]:
    """`resolve`, then the model with the adapter merged in place (one memory per run: the base model is
    not needed again)."""
    config, adapter = resolve(loaded, memory, adapter_option, question, **sizes)
    return with_adapter(loaded, adapter), config


def memory_summary(engine: Engine, adapter: Adapter | None = None) -> dict:
    state = engine.new_state()
    out = engine.config.to_dict() | {
        "window_tokens": engine.config.window if engine.config.mode != "full" else engine.context_window,
        "state_bytes": state.nbytes(),
    }
    if engine.config.memory.length_name != "fam_length":
        out[engine.config.memory.length_name] = out.pop("fam_length")
    if adapter is not None and engine.config.mode == adapter.mode:
        out["adapter"] = str(adapter.path) if adapter.path else "yes"
    elif engine.config.trainable:
        out["adapter"] = "none (untrained memory)"
    return out


def describe_session(session) -> dict:
    """What `famcli info` shows: famcli's version, the model, the tokenizer, the memory and the recall index."""
    from famcli import __version__
    from famcli.models.loading import describe
    from famcli.recall.index import RecallConfig, planned_bytes_per_token
    from famcli.recall.search import RecallOptions

    loaded, index = session.loaded, RecallConfig()
    result = {"famcli": __version__, **describe(loaded), "tokenizer": session.tokens.backend,
              "memory": memory_summary(session.engine, loaded.adapter),
              "recall": {**dataclasses.asdict(RecallOptions()), **index.to_dict(),
                         "bytes_per_token": planned_bytes_per_token(index, loaded.config)}}
    if session.tokens.tiktoken is None:
        result["tokenizer_note"] = "tiktoken cannot express this tokenizer; famcli counts with the model's own"
    return result
