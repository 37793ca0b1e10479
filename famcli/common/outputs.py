"""Files famcli writes (saved states, adapters, checkpoints, plots, logs): checked before a long read or run
starts, so a typo in a path never costs the reading, and written atomically, so a kill mid-write never
leaves a half-written file where a good one is expected."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from famcli.common.errors import UserError


class OutputError(UserError):
    """An output path famcli cannot write."""


def check_writable(path: Path | str | None, what: str) -> None:
    """Raise OutputError now if `path` could not be written later (missing or read-only folder, a folder
    in the way, a read-only file)."""
    if path is None:
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputError(f"{what} {p} is a folder; give a file name")
    if p.exists() and not p.is_file():  # a device, FIFO or socket: famcli writes regular files only
        raise OutputError(f"{what} {p} is not a regular file (a device, pipe or socket); give a file name")
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"cannot write {what} {p}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise OutputError(f"cannot write {what} {p}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what} {p}: the folder {parent} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"cannot write {what} {p}: the file is read-only")


@contextlib.contextmanager
def atomic(path: Path | str) -> Iterator[Path]:
    """A temporary name beside `path` to write to; it replaces `path` only when the block succeeds. A symbolic
    link the user named is followed: its target is replaced, the link stays."""
    p = Path(path)
    if p.is_symlink():
        p = p.resolve()
    if p.exists() and not p.is_file():
        raise OutputError(f"{path} is not a regular file (a device, pipe or socket); famcli writes regular files only")
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, p)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def appended_lines(path: Path) -> tuple[list[object | None], int]:
    """A JSON-lines file famcli appends to (`batch --out`, `summarize --notes-out`): each complete line parsed
    (None where a line is not JSON), and the length the file keeps once a last line a kill cut short is cut
    off. Nothing is changed here: the caller checks the lines are its own before `cut_to`."""
    import json

    data = path.read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    entries: list[object | None] = []
    for line in complete.splitlines():
        try:
            entries.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            entries.append(None)
    return entries, len(complete)


def cut_to(path: Path, length: int) -> None:
    """Truncate a file to `length` bytes when it is longer (the half-written last line of `appended_lines`)."""
    if path.stat().st_size > length:
        with path.open("r+b") as f:
            f.truncate(length)
