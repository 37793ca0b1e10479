"""Opening a document: a file by what its first bytes say it is (the formats: famcli.documents.formats, one module
each behind one registry), and stdin, a named pipe or /dev/fd/N as it arrives (compressed or not).

Each format yields text pieces lazily, so a book or an endless pipe is never held whole in memory.
Problems are raised as DocumentError with a one-line message that says what and where.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from famcli.common.limits import PIPE_WAIT, env_number
from famcli.documents.base import Document, DocumentError, visible
from famcli.documents.formats import format_of, formats, reads, suffixes
from famcli.documents.formats.base import CHUNK_BYTES, Head, decode

__all__ = ["open_document", "is_stream", "read_stream", "reads", "suffixes", "DocumentError"]


def is_stream(path: str) -> bool:
    """Whether FILE is read once, as it arrives: stdin (`-`), a named pipe, `/dev/fd/N`, a device or a socket.
    Such a FILE is opened once (a second open of a named pipe waits for a writer that has come and gone)."""
    if path == "-":
        return True
    p = Path(path)
    return p.is_fifo() or p.is_char_device() or p.is_socket()


def open_document(path: str, password: str | None = None) -> Document:
    """`-` is stdin; a file is read by what its first bytes say it is. Its text comes without the characters
    that show nothing and join nothing (`visible`)."""
    doc = _opened(path, password)
    doc.pieces = visible(doc.pieces)
    return doc


def _opened(path: str, password: str | None) -> Document:
    if path == "-":
        if sys.stdin is None:
            raise DocumentError("stdin is closed: pipe the document in, or give it as FILE")
        doc = Document("<stdin>", None, iter(()), stream=True)
        doc.pieces = read_stream(sys.stdin.buffer.fileno(), notes=doc.notes)
        return doc
    p = Path(path)
    if not p.exists():
        raise DocumentError(f"no such file: {path}")
    if p.is_dir():
        raise DocumentError(f"{path} is a directory, not a document")
    if is_stream(path):  # `<(cat doc.txt)`, a named pipe: read like stdin
        try:
            fd = _open_pipe(p) if p.is_fifo() else os.open(p, os.O_RDONLY)
        except OSError as exc:
            raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from None
        doc = Document(str(path), None, iter(()), stream=True)
        doc.pieces = read_stream(fd, str(path), doc.notes)
        return doc
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise DocumentError(f"{path} is empty")
    fmt = format_of(Head(head, p, path))
    doc = Document(str(path), size, iter(()), kind=fmt.name)
    doc.pieces = fmt.read(p, doc, password)
    return doc


def _open_pipe(p: Path) -> int:
    """A named pipe's read end, once something opens it for writing (opening it waits for a writer, and one that
    never comes would leave famcli waiting forever): past FAMCLI_PIPE_WAIT seconds, a DocumentError. The open waits
    in a thread; a writer that connects and closes at once releases it when the wait is over."""
    wait = env_number("FAMCLI_PIPE_WAIT", PIPE_WAIT)
    opened: dict = {}

    def open_it():
        try:
            opened["fd"] = os.open(p, os.O_RDONLY)
        except OSError as exc:
            opened["error"] = exc

    waiting = threading.Thread(target=open_it, name="famcli-pipe", daemon=True)
    waiting.start()
    waiting.join(wait)
    if waiting.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
        waiting.join(1)
        if "fd" in opened:
            os.close(opened["fd"])
        raise DocumentError(f"nothing opened the named pipe {p} for writing within {wait:g} s: start its writer "
                            "first, or pipe the text to stdin (FAMCLI_PIPE_WAIT sets the wait)")
    if "error" in opened:
        raise opened["error"]
    return opened["fd"]


def read_stream(fd: int, name: str = "<stdin>", notes: list[str] | None = None) -> Iterator[str]:
    """Whatever bytes the pipe has, as soon as it has them (works under `tail -f`); a stream whose first bytes
    are those of a format read from pipes (compressed text) is read by it as it arrives."""
    def chunks():
        try:
            while block := os.read(fd, CHUNK_BYTES):
                yield block
        finally:
            if name != "<stdin>":  # a pipe opened by name is ours to close
                os.close(fd)

    def sniffed():
        raw, first = chunks(), b""
        piped = [f for f in formats() if f.streams]
        for block in raw:  # a few bytes more while they could still begin a format read from pipes
            first += block
            if not any(m.startswith(first) and len(first) < len(m) for f in piped for m in f.magic):
                break
        rest = _prepend(first, raw) if first else iter(())
        fmt = next((f for f in piped if first and f.recognise(Head(first, Path(name), name))), None)
        yield from fmt.stream(rest, name) if fmt is not None else rest

    return decode(sniffed(), name, notes)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
