"""Where famcli keeps what it computes once per machine or model (converted GGUF weights, int8 calibration,
the precision `auto` timed): FAMCLI_CACHE, else ~/.cache/famcli."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("FAMCLI_CACHE") or Path.home() / ".cache" / "famcli")
