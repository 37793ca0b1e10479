"""Putting a loaded model, an adapter and a memory configuration together into a ready engine."""

from __future__ import annotations

from pathlib import Path

from famcli.adapter import Adapter, AdapterError, load_adapter, shipped_adapter
from famcli.config import MODES, ConfigError, MemoryConfig
from famcli.engine import ZERO_SHOT_FAM_TEXT, Engine
from famcli.models import LoadedModel

ZERO_SHOT = "fam-zero-shot"  # a label for side-by-side tables: mode fam with no adapter


def build_engine(loaded: LoadedModel, config: MemoryConfig) -> Engine:
    """An engine using the model's merged adapter's FAM prompt, or (zero-shot) the embeddings of a fixed
    text (design doc 3.1)."""
    adapter = loaded.adapter
    if adapter is not None and config.n_fam:
        if adapter.prompt.shape[0] != config.n_fam:
            raise ConfigError(f"the adapter's FAM prompt has {adapter.prompt.shape[0]} vectors; "
                              f"--fam-length {config.n_fam} does not fit it")
        return Engine(loaded.model, config, fam_prompt=adapter.prompt, context_window=loaded.context_window)
    prompt_ids = loaded.tokenizer.encode(ZERO_SHOT_FAM_TEXT, add_special_tokens=False)
    return Engine(loaded.model, config, fam_prompt_ids=prompt_ids, context_window=loaded.context_window)


def find_adapter(loaded: LoadedModel, option: str | None) -> Adapter | None:
    """`--adapter`: auto (the one shipped for this exact model, if any), none, or a file."""
    option = option or "auto"
    if option == "none":
        return None
    path = shipped_adapter(loaded.identity) if option == "auto" else Path(option)
    if path is None:
        return None
    adapter = load_adapter(path)
    adapter.check(loaded.identity)
    return adapter


def resolve(loaded: LoadedModel, memory: str, adapter_option: str | None = "auto",
            **sizes) -> MemoryConfig:
    """The memory configuration a command runs with, merging the adapter it needs into the model.

    `--memory auto` is fam when an adapter is found and sink otherwise (an untrained FAM hurts, see the
    README). An automatically found adapter is used only for fam: sink, bswa and full then run the base
    model, so comparisons against them are fair; a file given with --adapter is merged for every mode.
    With an adapter, its block size, memory segments and FAM length are the defaults (explicit sizes win,
    except a FAM length the prompt does not have)."""
    if memory not in ("auto", ZERO_SHOT, *MODES):
        raise ConfigError(f"unknown memory mode {memory!r} (choose auto, {', '.join(MODES)} or {ZERO_SHOT})")
    if memory == ZERO_SHOT:
        memory, adapter_option = "fam", "none"
    adapter = loaded.adapter or find_adapter(loaded, adapter_option)
    mode = memory if memory != "auto" else ("fam" if adapter is not None else "sink")
    if mode != "fam" and (adapter_option or "auto") == "auto" and loaded.adapter is None:
        adapter = None
    given = {k: v for k, v in sizes.items() if v is not None}
    if adapter is not None and mode == "fam":
        base = adapter.config.replace(mode="fam")
        if "fam_length" in given and given["fam_length"] != base.fam_length:
            raise ConfigError(f"the adapter was trained with --fam-length {base.fam_length}, not {given['fam_length']}")
        config = base.replace(**given)
    else:
        config = MemoryConfig(mode=mode, **given)
    if adapter is not None and loaded.adapter is None:
        adapter.merge_into(loaded.model)
        loaded.adapter = adapter
    elif adapter is None and loaded.adapter is not None and mode == "fam" and adapter_option == "none":
        raise AdapterError("this model already has an adapter merged; load it again for a zero-shot run")
    return config


def memory_summary(engine: Engine, adapter: Adapter | None = None) -> dict:
    state = engine.new_state()
    out = engine.config.to_dict() | {
        "window_tokens": engine.config.window if engine.config.mode != "full" else engine.context_window,
        "state_bytes": state.nbytes(),
    }
    if adapter is not None and engine.config.n_fam:
        out["adapter"] = str(adapter.path) if adapter.path else "yes"
    return out
