"""Plain text, Markdown and logs: strict UTF-8, read a block at a time (the last format tried: what no other
format recognises and famcli does not reject is read as text). Limits: none on the size, since the text is never
held whole; a NUL byte or invalid UTF-8 ends the read with the byte offset where it was found."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from famcli.documents.base import Document, DocumentError
from famcli.documents.formats.base import Format, Head

CHUNK_BYTES = 1 << 16


class Text(Format):
    name = "text"
    reads = "text, Markdown, logs"
    suffixes = (".txt", ".md", ".log")
    by_bytes = False

    def recognise(self, head: Head) -> bool:
        return True

    def read(self, path: Path, doc: Document, password: str | None) -> Iterator[str]:
        return decode(file_chunks(path), str(path))


def decode(chunks: Iterator[bytes], name: str) -> Iterator[str]:
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


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            yield block
