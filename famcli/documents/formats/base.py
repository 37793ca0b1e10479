"""What a document format is (`Format`), what it is recognised from (`Head`: a file's first bytes and, for a
ZIP container, its parts, listed once and checked against zip bombs before any part is read), and the strict
UTF-8 decoding every text format and stream ends in (`decode`)."""

from __future__ import annotations

import codecs
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from famcli.common.limits import MAX_ZIP_BYTES, MAX_ZIP_ENTRIES, Inflation, mb
from famcli.documents.base import Document, DocumentError

CHUNK_BYTES = 1 << 16


@dataclass
class Head:
    """A file's first bytes (up to 4096), its path and the name its messages use."""

    bytes: bytes
    path: Path
    name: str

    @cached_property
    def zip(self) -> tuple[set[str], bytes] | None:
        """For a ZIP container: its part names and its `mimetype` part (EPUB's), once checked (`check_zip`);
        None for anything else. A damaged ZIP is a DocumentError."""
        if not self.bytes.startswith(b"PK\x03\x04"):
            return None
        try:
            with zipfile.ZipFile(self.path) as z:
                check_zip(z, self.name)
                names = set(z.namelist())
                mimetype = b""
                if "mimetype" in names:
                    with z.open("mimetype") as f:
                        mimetype = f.read(256).strip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DocumentError(f"{self.name} is a damaged ZIP file ({exc})") from None
        return names, mimetype


class Format(ABC):
    """One format famcli reads. `name` is the document's kind (`Document.kind`); `reads` is how messages list
    it ("PDF"); `suffixes` are what a folder given to `batch` is searched for (the kind of a file named directly
    is read from its bytes). A format `by_bytes` is recognised by its first bytes before famcli rejects the
    binary files it knows but does not read (images, archives); the others (HTML, text) are tried after that.
    `read` checks the file when it is opened (a damaged one fails before a long read starts), then yields its
    text lazily, within the limits of famcli.common.limits, setting `doc.place` where it knows it."""

    name: ClassVar[str]
    reads: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()
    by_bytes: ClassVar[bool] = True
    magic: ClassVar[tuple[bytes, ...]] = ()  # the first bytes that mark it, where it has such
    streams: ClassVar[bool] = False  # it can be read from a pipe (`stream`)

    @abstractmethod
    def recognise(self, head: Head) -> bool:
        """Whether the file is of this format."""

    @abstractmethod
    def read(self, path: Path, doc: Document, password: str | None) -> Iterator[str]:
        """The file's text pieces, each ending in a newline."""

    def stream(self, chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
        """For a format that `streams`: the text's bytes from a pipe whose first bytes are this format's, as they
        arrive (a pipe in any other format is decoded as text, and fails as text does)."""
        raise NotImplementedError(f"{self.name} is not read from a pipe")


def check_zip(z: zipfile.ZipFile, name: str) -> None:
    """Before any part is read: at most MAX_ZIP_ENTRIES parts, each within the inflation ratio, all together within
    MAX_ZIP_BYTES (the declared sizes: zipfile never inflates a part past its declared size)."""
    infos = z.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise DocumentError(f"{name} has {len(infos):,} parts (at most {MAX_ZIP_ENTRIES:,}): not a document")
    limits, total = Inflation(), 0
    for info in infos:
        total += info.file_size
        limits.check(name, info.file_size, info.compress_size, f" (part {info.filename[:60]})")
    if total > min(limits.total, MAX_ZIP_BYTES):
        raise DocumentError(f"{name} inflates to {mb(total)} in all (at most {mb(min(limits.total, MAX_ZIP_BYTES))}"
                            "): a zip bomb?")


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
