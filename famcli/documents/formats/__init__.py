"""The document formats famcli reads, one module each, found through one registry (as the memories are:
famcli.core.memory).

A format is a `famcli.documents.formats.base.Format`: its kind, the suffixes `batch` searches a folder for, how
messages name it, how to recognise it from a file's first bytes, and how to read it (checked when opened, then
lazily, within its limits: each module's docstring says which). Adding a format is one module plus one line
below (or `register(format)` at run time, as the tests do with a toy format). Formats are tried in this order,
those recognised by their bytes first; then famcli rejects the binary files it knows but does not read (images,
archives), and only then are HTML and text tried, text last (it takes whatever is left).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from famcli.documents.base import DocumentError

if TYPE_CHECKING:  # annotations only: the formats import their base, the registry only names them
    from famcli.documents.formats.base import Format, Head

_REGISTRY: dict[str, object] = {  # kind -> "module:Class" (imported when first used) or the format itself
    "pdf": "famcli.documents.formats.pdf:Pdf",
    "compressed": "famcli.documents.formats.compressed:Compressed",
    "epub": "famcli.documents.formats.epub:Epub",
    "docx": "famcli.documents.formats.docx:Docx",
    "html": "famcli.documents.formats.html:Html",
    "text": "famcli.documents.formats.text:Text",
}
BUILTIN = tuple(_REGISTRY)
# what famcli recognises but does not read: first bytes -> what the file is
FOREIGN = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
           b"\x7fELF": "an executable (ELF)", b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
           b"Rar!": "a RAR archive", b"\xd0\xcf\x11\xe0": "an old Office file (.doc/.xls: save it as DOCX)",
           b"{\\rtf": "an RTF document (save it as DOCX or text)", b"SQLite format 3": "an SQLite database",
           b"PAR1": "a Parquet file"}


def formats() -> list[Format]:
    """Every registered format, in the order they are tried."""
    out = []
    for kind, entry in list(_REGISTRY.items()):
        if isinstance(entry, str):
            module, _, name = entry.partition(":")
            entry = _REGISTRY[kind] = getattr(importlib.import_module(module), name)()
        out.append(entry)
    return out


def register(fmt: Format) -> None:
    """Add (or replace) a format; a new one is tried before HTML and text."""
    _REGISTRY[fmt.name] = fmt
    if fmt.name not in BUILTIN:  # before the text formats, which take what is left
        for kind in [k for k in _REGISTRY if k in ("html", "text")]:
            _REGISTRY[kind] = _REGISTRY.pop(kind)


def unregister(kind: str) -> None:
    if kind in BUILTIN:
        raise ValueError(f"{kind} is a built-in format")
    _REGISTRY.pop(kind, None)


def reads() -> str:
    """What famcli reads, as its messages list it."""
    found = formats()
    listed = [f.reads for f in found if not f.by_bytes][::-1] + [f.reads for f in found if f.by_bytes]
    return ", ".join(listed[:-1]) + " and " + listed[-1]


def suffixes() -> tuple[str, ...]:
    """What a folder given to `batch` is searched for."""
    return tuple(s for f in formats() for s in f.suffixes)


def format_of(head: Head) -> Format:
    """The format of a file from its first bytes; a DocumentError for what famcli recognises but does not read."""
    found = formats()
    for fmt in found:
        if fmt.by_bytes and fmt.recognise(head):
            return fmt
    name = head.name
    if head.zip is not None:
        if head.zip[1].startswith(b"application/vnd.oasis.opendocument"):
            raise DocumentError(f"{name} is an OpenDocument file (save it as DOCX); famcli reads {reads()}")
        raise DocumentError(f"{name} is a ZIP archive; famcli reads one document at a time ({reads()})")
    if len(head.bytes) > 262 and head.bytes[257:262] == b"ustar":
        raise DocumentError(f"{name} is a tar archive; famcli reads one document at a time ({reads()})")
    for magic, what in FOREIGN.items():
        if head.bytes.startswith(magic):
            raise DocumentError(f"{name} looks binary: it is {what}, not a document famcli reads ({reads()})")
    return next(fmt for fmt in found if not fmt.by_bytes and fmt.recognise(head))
