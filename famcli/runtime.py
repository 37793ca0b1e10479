"""Putting a loaded model, an adapter and a memory configuration together into a ready engine."""

from __future__ import annotations

from pathlib import Path

from famcli.adapter import Adapter, AdapterError, load_adapter, shipped_adapter
from famcli.config import MODES, ConfigError, MemoryConfig
from famcli.engine import ZERO_SHOT_FAM_TEXT, Engine
from famcli.models import LoadedModel

ZERO_SHOT = "fam-zero-shot"  # a label for side-by-side tables: mode fam with no adapter


TRAINABLE = ("fam", "memformer")  # memories with learned weights of their own (adapters are per mode)


def build_engine(loaded: LoadedModel, config: MemoryConfig) -> Engine:
    """An engine using the merged adapter's memory weights (FAM prompt, or Memformer writer and slots);
    without them, zero-shot: the FAM prompt or initial slots come from the model's reading of a fixed text
    (design doc 3.1) and a Memformer writer is untrained (seeded)."""
    adapter = loaded.adapter
    prompt_ids = loaded.tokenizer.encode(ZERO_SHOT_FAM_TEXT, add_special_tokens=False)
    if adapter is not None and adapter.mode != config.mode:
        adapter = None  # e.g. a FAM adapter's LoRA merged, running a baseline: no memory weights to use
    if adapter is not None and config.n_fam:
        if adapter.prompt.shape[0] != config.n_fam:
            raise ConfigError(f"the adapter's FAM prompt has {adapter.prompt.shape[0]} vectors; "
                              f"--fam-length {config.n_fam} does not fit it")
        return Engine(loaded.model, config, fam_prompt=adapter.prompt, context_window=loaded.context_window)
    writer = adapter.slot_writer() if adapter is not None and config.n_slots else None
    if writer is not None and writer.n_slots != config.n_slots:
        raise ConfigError(f"the adapter has {writer.n_slots} memformer slots; --slots {config.n_slots} "
                          "does not fit it")
    return Engine(loaded.model, config, fam_prompt_ids=prompt_ids, context_window=loaded.context_window,
                  writer=writer)


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


def resolve(loaded: LoadedModel, memory: str, adapter_option: str | None = "auto",
            **sizes) -> MemoryConfig:
    """The memory configuration a command runs with, merging the adapter it needs into the model.

    `--memory auto` is fam when a FAM adapter is found (or the mode of an adapter file given) and sink
    otherwise (an untrained memory hurts, see the README). Automatically found adapters are per mode and
    used only for their mode: sink, bswa and full then run the base model, so comparisons against them
    are fair; a file given with --adapter is merged for every mode, but its memory weights only serve
    the mode it was trained for. With an adapter, its block size, memory segments and memory length are
    the defaults (explicit sizes win, except a memory length its weights do not have)."""
    if memory not in ("auto", ZERO_SHOT, *MODES):
        raise ConfigError(f"unknown memory mode {memory!r} (choose auto, {', '.join(MODES)} or {ZERO_SHOT})")
    option = adapter_option or "auto"
    if memory == ZERO_SHOT:
        memory, option = "fam", "none"
    adapter = loaded.adapter
    if option == "none" and adapter is not None and memory in TRAINABLE:
        raise AdapterError("this model already has an adapter merged; load it again for a zero-shot run")
    if adapter is None and option != "none":
        wanted = "fam" if memory == "auto" else memory
        if option != "auto" or wanted in TRAINABLE:
            adapter = find_adapter(loaded, option, wanted)
    mode = memory if memory != "auto" else (adapter.mode if adapter is not None else "sink")
    if adapter is not None and mode in TRAINABLE and adapter.mode != mode:
        where = adapter.path or "the adapter"
        raise AdapterError(f"{where} was trained for --memory {adapter.mode}, not {mode}")
    given = {k: v for k, v in sizes.items() if v is not None}
    if adapter is not None and mode == adapter.mode:
        base = adapter.config
        if "fam_length" in given and given["fam_length"] != base.fam_length:
            what = "--slots" if mode == "memformer" else "--fam-length"
            raise ConfigError(f"the adapter was trained with {what} {base.fam_length}, not {given['fam_length']}")
        config = base.replace(**given)
    else:
        config = MemoryConfig(mode=mode, **given)
    if adapter is not None and loaded.adapter is None:
        adapter.merge_into(loaded.model)
        loaded.adapter = adapter
    return config


def untrained_memory(loaded: LoadedModel, config: MemoryConfig) -> bool:
    """True when a trainable memory runs without its learned weights (zero-shot FAM, untrained writer)."""
    return config.mode in TRAINABLE and (loaded.adapter is None or loaded.adapter.mode != config.mode)


def memory_summary(engine: Engine, adapter: Adapter | None = None) -> dict:
    state = engine.new_state()
    out = engine.config.to_dict() | {
        "window_tokens": engine.config.window if engine.config.mode != "full" else engine.context_window,
        "state_bytes": state.nbytes(),
    }
    if engine.config.mode == "memformer":
        out["slots"] = out.pop("fam_length")
    if adapter is not None and engine.config.mode == adapter.mode:
        out["adapter"] = str(adapter.path) if adapter.path else "yes"
    elif engine.config.mode in TRAINABLE:
        out["adapter"] = "none (untrained memory)"
    return out
