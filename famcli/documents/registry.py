"""Document readers: text, Markdown and logs (strict UTF-8), PDF page by page, EPUB chapter by chapter, DOCX,
HTML, gzip/bz2/xz/zstd-compressed text, and stdin as it arrives (compressed or not).

The kind of a file is read from its first bytes, not from its name (the suffix only tells HTML from text).
Each reader yields text pieces lazily, so a book or an endless pipe is never held whole in memory.
Problems are raised as DocumentError with a one-line message that says what and where.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import lzma
import os
import sys
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from famcli.common.limits import (
    MAX_ZIP_BYTES,
    MAX_ZIP_ENTRIES,
    PIPE_WAIT,
    Inflation,
    LimitError,
    env_number,
    mb,
)
from famcli.documents.base import Document, DocumentError

CHUNK_BYTES = 1 << 16
READS = "text, Markdown, logs, PDF, EPUB, DOCX, HTML, and gzip/bz2/xz/zstd-compressed text"
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
# what a folder given to `batch` is searched for (the kind of a file named directly is read from its bytes)
DOCUMENT_SUFFIXES = (".txt", ".md", ".log", ".pdf", ".epub", ".docx", *sorted(HTML_SUFFIXES), ".gz", ".bz2", ".xz",
                     ".zst")
COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
# what famcli recognises but does not read: first bytes -> what the file is
FOREIGN = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
           b"\x7fELF": "an executable (ELF)", b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
           b"Rar!": "a RAR archive", b"\xd0\xcf\x11\xe0": "an old Office file (.doc/.xls: save it as DOCX)",
           b"{\\rtf": "an RTF document (save it as DOCX or text)", b"SQLite format 3": "an SQLite database",
           b"PAR1": "a Parquet file"}



def is_stream(path: str) -> bool:
    """Whether FILE is read once, as it arrives: stdin (`-`), a named pipe, `/dev/fd/N`, a device or a socket.
    Such a FILE is opened once (a second open of a named pipe waits for a writer that has come and gone)."""
    if path == "-":
        return True
    p = Path(path)
    return p.is_fifo() or p.is_char_device() or p.is_socket()


def open_document(path: str, password: str | None = None) -> Document:
    """`-` is stdin; a file is read by what its first bytes say it is."""
    if path == "-":
        if sys.stdin is None:
            raise DocumentError("stdin is closed: pipe the document in, or give it as FILE")
        return Document("<stdin>", None, read_stream(sys.stdin.buffer.fileno()), stream=True)
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
        return Document(str(path), None, read_stream(fd, str(path)), stream=True)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise DocumentError(f"{path} is empty")
    doc = Document(str(path), size, iter(()), kind=sniff(head, p, path))
    if doc.kind == "pdf":
        doc.pieces = read_pdf(p, password, doc)
    elif doc.kind in ("epub", "docx"):
        from famcli.documents import formats

        doc.pieces = (formats.read_epub if doc.kind == "epub" else formats.read_docx)(p, doc)
    elif doc.kind in COMPRESSED.values():
        doc.pieces, doc.kind = read_compressed(p, doc.kind, path), f"text+{doc.kind}"
    elif doc.kind == "html":
        from famcli.documents.formats import read_html

        doc.pieces = read_html(p, doc)
    else:
        doc.pieces = read_text(p)
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


def sniff(head: bytes, p: Path, name: str) -> str:
    """The kind of a file from its first bytes; raises for what famcli recognises but does not read."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    for magic, kind in COMPRESSED.items():
        if head.startswith(magic):
            return kind
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(p, name)
    if len(head) > 262 and head[257:262] == b"ustar":
        raise DocumentError(f"{name} is a tar archive; famcli reads one document at a time ({READS})")
    for magic, what in FOREIGN.items():
        if head.startswith(magic):
            raise DocumentError(f"{name} looks binary: it is {what}, not a document famcli reads ({READS})")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(f"{name} is UTF-16 text; famcli reads UTF-8 (convert it: iconv -f UTF-16 -t UTF-8)")
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if p.suffix.lower() in HTML_SUFFIXES or start.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text"


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


def _zip_kind(p: Path, name: str) -> str:
    try:
        with zipfile.ZipFile(p) as z:
            check_zip(z, name)
            names = set(z.namelist())
            mimetype = b""
            if "mimetype" in names:
                with z.open("mimetype") as f:
                    mimetype = f.read(256).strip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DocumentError(f"{name} is a damaged ZIP file ({exc})") from None
    if mimetype == b"application/epub+zip" or "META-INF/container.xml" in names:
        return "epub"
    if "word/document.xml" in names:
        return "docx"
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        raise DocumentError(f"{name} is an OpenDocument file (save it as DOCX); famcli reads {READS}")
    raise DocumentError(f"{name} is a ZIP archive; famcli reads one document at a time ({READS})")


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


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            yield block


def read_text(path: Path) -> Iterator[str]:
    return _decode(_file_chunks(path), str(path))


ZSTD_SLICE = 1024  # compressed bytes a zstd call gets: at most ~40 MB of output even from a bomb


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


def read_compressed(path: Path, kind: str, name: str) -> Iterator[str]:
    """Compressed text: the inner bytes must be text (a compressed PDF or archive is named as such)."""
    def checked():
        first = True
        for block in inflate(_file_chunks(path), kind, name):
            if first:
                inner = block[:8]
                if inner.startswith((b"%PDF-", b"PK\x03\x04")) or block[257:262] == b"ustar":
                    what = "PDF" if inner.startswith(b"%PDF-") else "archive"
                    raise DocumentError(f"{name} is a {kind}-compressed {what}; decompress it first "
                                        f"(famcli reads compressed text)")
                first = False
            yield block

    return _decode(checked(), name)


def read_stream(fd: int, name: str = "<stdin>") -> Iterator[str]:
    """Whatever bytes the pipe has, as soon as it has them (works under `tail -f`); a compressed stream
    (by its first bytes) is decompressed as it arrives."""
    def chunks():
        try:
            while block := os.read(fd, CHUNK_BYTES):
                yield block
        finally:
            if name != "<stdin>":  # a pipe opened by name is ours to close
                os.close(fd)

    def sniffed():
        raw, first = chunks(), b""
        for block in raw:  # a few bytes more while they could still begin a compressed stream
            first += block
            if not any(m.startswith(first) and len(first) < len(m) for m in COMPRESSED):
                break
        kind = next((k for m, k in COMPRESSED.items() if first.startswith(m)), None)
        rest = _prepend(first, raw) if first else iter(())
        yield from inflate(rest, kind, name) if kind else rest

    return _decode(sniffed(), name)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


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
    """Each page's text, ending in a blank line (so tokenisation never joins two pages); doc.place follows."""
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
            doc.place = ("page", i + 1)
            yield text.replace("\r\n", "\n").rstrip() + "\n\n"
    finally:
        handle.close()
    if empty == n_pages:
        raise DocumentError(f"{path} has no extractable text on any of its {n_pages} pages (scanned images?)")
    if empty:
        doc.notes.append(f"{empty} of {n_pages} PDF pages had no extractable text (scanned?) and were skipped")
