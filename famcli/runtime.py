"""Putting a loaded model and a memory configuration together into a ready engine."""

from __future__ import annotations

from famcli.config import MemoryConfig
from famcli.engine import ZERO_SHOT_FAM_TEXT, Engine
from famcli.models import LoadedModel


def build_engine(loaded: LoadedModel, config: MemoryConfig) -> Engine:
    """An engine whose zero-shot FAM prompt is the embedding of a fixed text (design doc 3.1)."""
    prompt_ids = loaded.tokenizer.encode(ZERO_SHOT_FAM_TEXT, add_special_tokens=False)
    return Engine(loaded.model, config, fam_prompt_ids=prompt_ids, context_window=loaded.context_window)


def memory_summary(engine: Engine) -> dict:
    state = engine.new_state()
    return engine.config.to_dict() | {
        "window_tokens": engine.config.window if engine.config.mode != "full" else engine.context_window,
        "state_bytes": state.nbytes(),
    }
