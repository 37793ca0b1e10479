"""How a job reports progress: the library never prints, it tells a `Reporter` the caller gives.

The CLI's reporter writes notes and a progress bar to stderr; `Silent` says nothing (the library's default).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from famcli.core.config import MemoryConfig


UNREAD_NOTE = ("Note: this text is mostly in a script the model cannot read (most of its letters have no token of "
               "their own in the model's vocabulary): famcli quotes it instead of reading it.")


class Reporter(Protocol):
    def note(self, text: str) -> None: ...

    def reading(self, total: int | None, label: str, block_size: int) -> contextlib.AbstractContextManager: ...


class Silent:
    """A reporter that says nothing."""

    def note(self, text: str) -> None:
        pass

    @contextlib.contextmanager
    def reading(self, total, label, block_size) -> Iterator[Callable[[int], None]]:
        yield lambda n: None


def note_untrained(reporter: Reporter, config: MemoryConfig) -> None:
    what = config.memory.untrained
    reporter.note(f"Note: no trained {config.mode} adapter for this model; reading with {what} (train one with "
                  f"`famcli train --memory {config.mode}`)")
