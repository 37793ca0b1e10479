"""gzip, bz2, xz and zstd-compressed text (concatenated members or frames too, as `cat a.gz b.gz`), decompressed
as it is read, and the same for a pipe whose first bytes say it is compressed (famcli.documents.registry). Limits:
famcli.common.limits.Inflation (a ratio past a floor, and a total), checked as the bytes come, so a bomb stops
early; a compressed PDF or archive is named as such."""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path

from famcli.common.limits import Inflation, LimitError
from famcli.documents.base import Document, DocumentError
from famcli.documents.formats.base import CHUNK_BYTES, Format, Head, decode, file_chunks

MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
ZSTD_SLICE = 1024  # compressed bytes a zstd call gets: at most ~40 MB of output even from a bomb


class Compressed(Format):
    name = "compressed"
    reads = "gzip/bz2/xz/zstd-compressed text"
    suffixes = (".gz", ".bz2", ".xz", ".zst")
    magic = tuple(MAGIC)
    streams = True

    def recognise(self, head: Head) -> bool:
        return compression(head.bytes) is not None

    def read(self, path: Path, doc: Document, password: str | None) -> Iterator[str]:
        """The text inside; the document's kind says how it was compressed ("text+gzip")."""
        with open(path, "rb") as f:
            kind = compression(f.read(8))
        doc.kind = f"text+{kind}"
        return read_compressed(path, kind, doc.name, doc.notes)

    def stream(self, chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
        first = next(chunks, b"")
        return inflate(_prepend(first, chunks), compression(first), name)


def compression(first: bytes) -> str | None:
    return next((kind for magic, kind in MAGIC.items() if first.startswith(magic)), None)


def _decompressor(kind: str):
    """A fresh incremental decompressor with .decompress(), .eof and .unused_data (and an output limit, but for
    zstd)."""
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def _slices(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    for chunk in chunks:
        for i in range(0, len(chunk), size):
            yield chunk[i:i + size]


def inflate(chunks: Iterator[bytes], kind: str, name: str) -> Iterator[bytes]:
    """Decompressed bytes as the compressed ones arrive, at most CHUNK_BYTES at a time, within Limits;
    concatenated members/frames (as `cat a.gz b.gz`) too."""
    errors: tuple[type[BaseException], ...] = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError)
    limits, made = Inflation(), 0
    if kind == "zstd":
        import zstandard

        errors += (zstandard.ZstdError,)
        chunks = _slices(chunks, ZSTD_SLICE)  # zstandard's decompress has no output limit: small inputs bound it
    d, seen = _decompressor(kind), 0
    try:
        for data in chunks:
            seen += len(data)
            while True:
                out = d.decompress(data) if kind == "zstd" else d.decompress(data, CHUNK_BYTES)
                data = d.unconsumed_tail if kind == "gzip" else b""
                made += len(out)
                limits.check(name, made, seen)
                if out:
                    yield out
                if d.eof:
                    if not d.unused_data:
                        break
                    data = d.unused_data  # (zlib leaves the same bytes in unconsumed_tail)
                    d = _decompressor(kind)
                elif data if kind == "gzip" else kind != "zstd" and not d.needs_input:
                    continue  # input left (gzip) or output waiting (bz2, xz)
                else:
                    break
    except (DocumentError, LimitError):
        raise
    except errors as exc:
        raise DocumentError(f"{name} is damaged {kind} data near byte {seen} ({str(exc) or type(exc).__name__})") from None
    if not d.eof:
        raise DocumentError(f"{name} is truncated {kind} data (the compressed stream ends early)")


def read_compressed(path: Path, kind: str, name: str, notes: list[str] | None = None) -> Iterator[str]:
    """Compressed text: the inner bytes must be text (a compressed PDF or archive is named as such)."""
    def checked():
        first = True
        for block in inflate(file_chunks(path), kind, name):
            if first:
                inner = block[:8]
                if inner.startswith((b"%PDF-", b"PK\x03\x04")) or block[257:262] == b"ustar":
                    what = "PDF" if inner.startswith(b"%PDF-") else "archive"
                    raise DocumentError(f"{name} is a {kind}-compressed {what}; decompress it first "
                                        f"(famcli reads compressed text)")
                first = False
            yield block

    return decode(checked(), name, notes)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
