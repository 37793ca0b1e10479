"""State files (famcli.core.state): what a saved reading refuses."""

from __future__ import annotations

import pytest
import torch

from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine


def ids_of(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


def test_state_file_refuses_other_config(llama, tmp_path):
    engine = Engine(llama, MemoryConfig(mode="fam", block_size=32))
    state = engine.new_state()
    engine.feed(state, ids_of(10))
    engine.save_state(state, tmp_path / "s.safetensors")
    other = Engine(llama, MemoryConfig(mode="fam", block_size=16))
    with pytest.raises(ValueError, match="saved with memory"):
        other.load_state(tmp_path / "s.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a state")
    with pytest.raises(ValueError, match="not a famcli state file"):
        engine.load_state(tmp_path / "junk.safetensors")
