"""Document readers: UTF-8 text with encoding checks, PDF page by page, stdin as it arrives.

Each reader yields text pieces lazily, so a book or an endless pipe is never held whole in memory.
Problems are raised as DocumentError with a one-line message that says what and where.
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CHUNK_BYTES = 1 << 16
TEXT_SUFFIXES = {".txt", ".md", ".log", ".text", ".rst", ".csv", ".json", ".py", ""}


class DocumentError(ValueError):
    """A document that cannot be read as text."""


@dataclass
class Document:
    """A source of text pieces plus what its reader noticed (e.g. pages without text)."""

    name: str
    size_bytes: int | None
    pieces: Iterator[str]
    notes: list[str] = field(default_factory=list)
    page: int | None = None  # PDFs: the 1-based number of the page the last piece came from


def open_document(path: str, password: str | None = None) -> Document:
    """`-` is stdin; `.pdf` goes through pypdf; anything else must be UTF-8 text."""
    if path == "-":
        return Document("<stdin>", None, read_stream(sys.stdin.buffer.fileno()))
    p = Path(path)
    if not p.exists():
        raise DocumentError(f"no such file: {path}")
    if p.is_dir():
        raise DocumentError(f"{path} is a directory, not a document")
    size = p.stat().st_size
    if size == 0:
        raise DocumentError(f"{path} is empty")
    with open(p, "rb") as f:
        head = f.read(8)
    if p.suffix.lower() == ".pdf" or head.startswith(b"%PDF-"):
        doc = Document(str(path), size, iter(()))
        doc.pieces = read_pdf(p, password, doc)
        return doc
    return Document(str(path), size, read_text(p))


def _decode(chunks: Iterator[bytes], name: str) -> Iterator[str]:
    """Incremental strict UTF-8: BOM dropped, CRLF/CR made LF, NUL bytes taken as binary."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset, first, pending_cr = 0, True, False
    for raw in chunks:
        if b"\0" in raw:
            where = offset + raw.index(b"\0")
            raise DocumentError(f"{name} looks binary (NUL byte at byte {where}), not text")
        try:
            text = decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise DocumentError(f"{name} is not valid UTF-8 at byte {offset + exc.start}") from None
        offset += len(raw)
        if first and text:
            text, first = text.removeprefix("\ufeff"), False
        if pending_cr:
            text, pending_cr = "\r" + text, False
        if text.endswith("\r"):
            text, pending_cr = text[:-1], True
        if text:
            yield text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise DocumentError(f"{name} is not valid UTF-8 at byte {offset} (truncated character at the end)") from None
    if pending_cr or tail:
        yield ("\n" if pending_cr else "") + tail


def read_text(path: Path) -> Iterator[str]:
    def chunks():
        with open(path, "rb") as f:
            while block := f.read(CHUNK_BYTES):
                yield block

    return _decode(chunks(), str(path))


def read_stream(fd: int) -> Iterator[str]:
    """Whatever bytes the pipe has, as soon as it has them (works under `tail -f`)."""
    def chunks():
        while block := os.read(fd, CHUNK_BYTES):
            yield block

    return _decode(chunks(), "<stdin>")


def read_pdf(path: Path, password: str | None, doc: Document) -> Iterator[str]:
    """Pages one by one from an open file handle; encrypted files need the right password."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    handle = open(path, "rb")
    try:
        reader = PdfReader(handle)
        if reader.is_encrypted:
            if not password:
                raise DocumentError(f"{path} is encrypted: pass --password")
            if not reader.decrypt(password):
                raise DocumentError(f"wrong password for {path}")
        n_pages = len(reader.pages)
    except DocumentError:
        handle.close()
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        handle.close()
        raise DocumentError(f"{path} is not a readable PDF ({str(exc).splitlines()[0][:120]})") from None
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on damaged files
        handle.close()
        if "crypt" in type(exc).__name__.lower() or "AES" in str(exc):
            raise DocumentError(f"{path} uses encryption this install cannot open ({exc})") from None
        raise DocumentError(f"{path} is not a readable PDF ({type(exc).__name__})") from None
    return _pdf_pages(reader, handle, n_pages, path, doc)


def _pdf_pages(reader, handle, n_pages: int, path: Path, doc: Document) -> Iterator[str]:
    """Each page's text, ending in a blank line (so tokenisation never joins two pages); doc.page follows."""
    empty = 0
    try:
        for i in range(n_pages):
            try:
                text = reader.pages[i].extract_text() or ""
            except Exception as exc:  # noqa: BLE001
                raise DocumentError(f"{path}: page {i + 1} cannot be read ({type(exc).__name__})") from None
            if not text.strip():
                empty += 1
                continue
            doc.page = i + 1
            yield text.replace("\r\n", "\n").rstrip() + "\n\n"
    finally:
        handle.close()
    if empty == n_pages:
        raise DocumentError(f"{path} has no extractable text on any of its {n_pages} pages (scanned images?)")
    if empty:
        doc.notes.append(f"{empty} of {n_pages} PDF pages had no extractable text (scanned?) and were skipped")
