"""Plain text, Markdown and logs: UTF-8 (or UTF-16/32 with a BOM, whose invalid bytes end the read; a text that is
not UTF-8 is read as `famcli.documents.formats.base.decode` says, with a note), read a block at a time (the last
format tried: what no other format recognises and famcli does not reject is read as text). Limits: none on the
size, since the text is never held whole; a NUL byte ends the read with the byte offset where it was found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from famcli.documents.base import Document
from famcli.documents.formats.base import Format, Head, decode, file_chunks


class Text(Format):
    name = "text"
    reads = "text, Markdown, logs"
    suffixes = (".txt", ".md", ".log")
    by_bytes = False

    def recognise(self, head: Head) -> bool:
        return True

    def read(self, path: Path, doc: Document, password: str | None) -> Iterator[str]:
        return decode(file_chunks(path), str(path), doc.notes)
