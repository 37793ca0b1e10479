"""What a document format is (`Format`) and what it is recognised from (`Head`: a file's first bytes and, for a
ZIP container, its parts, listed once and checked against zip bombs before any part is read)."""

from __future__ import annotations

import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from famcli.common.limits import MAX_ZIP_BYTES, MAX_ZIP_ENTRIES, Inflation, mb
from famcli.documents.base import Document, DocumentError


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

    @abstractmethod
    def recognise(self, head: Head) -> bool:
        """Whether the file is of this format."""

    @abstractmethod
    def read(self, path: Path, doc: Document, password: str | None) -> Iterator[str]:
        """The file's text pieces, each ending in a newline."""


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
