"""What a document format is (`Format`), what it is recognised from (`Head`: a file's first bytes and, for a
ZIP container, its parts, listed once and checked against zip bombs before any part is read), and the decoding
every text format and stream ends in (`decode`: UTF-8, or what a text that is not UTF-8 is read as)."""

from __future__ import annotations

import codecs
import itertools
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


LEGACY = "cp1252"  # what a byte that is not UTF-8 is read as in Western text: Windows-1252, the encoding the WHATWG
# Encoding standard reads "latin-1" and "ascii" labels as, and the default legacy one of Western locales
NON_LATIN = 0.3  # share of the letters, from the first byte that is not UTF-8 to its chunk's end, written in bytes
# >= 0x80 (most of them not UTF-8) above which the text is taken for a non-Latin legacy encoding (Cyrillic, Greek,
# CJK) and its encoding guessed (charset-normalizer): a Western text in Windows-1252 has a few accented letters
# among its ASCII ones
GUESS_LETTERS = 100  # letters a chunk needs before its encoding is guessed (a few bytes say little about one)
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))
# a byte that is not UTF-8, decoded with errors="surrogateescape" (U+DC80-U+DCFF), as its Windows-1252 character
_AS_LEGACY = {0xDC00 + b: bytes([b]).decode(LEGACY, errors="replace") for b in range(0x80, 0x100)}


def decode(chunks: Iterator[bytes], name: str, notes: list[str] | None = None) -> Iterator[str]:
    """Incremental decoding: UTF-8, BOM dropped, CRLF/CR made LF, NUL bytes taken as binary. A UTF-16 or UTF-32
    text is known by its BOM (and ends the read where it is not valid). A text that is not UTF-8 is read, not
    refused, and `notes` say how (the reader sees them): up to its first byte that is not UTF-8 as UTF-8, from
    there on as a non-Latin legacy encoding guessed by charset-normalizer when most of the rest of that chunk's
    letters are bytes that are not UTF-8 (`NON_LATIN`: Cyrillic in Windows-1251, Chinese in GB18030), else each
    byte that is not UTF-8 as Windows-1252 (an old Western text, or a UTF-8 one with a stray curly quote)."""
    notes = notes if notes is not None else []
    chunks = iter(chunks)
    head = b""
    for raw in chunks:  # four bytes at least, to tell a BOM (a pipe may give fewer first)
        head += raw
        if len(head) >= 4:
            break
    encoding = next((enc for bom, enc in BOMS if head.startswith(bom)), "utf-8")
    wide = encoding != "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    legacy, offset, first, pending_cr = False, 0, True, False

    def switch(data: bytes, at: int, final: bool = False) -> str:
        """Read on as `_not_utf8` says from byte `at` of data (the bytes held from the chunk before, then this one),
        and say so."""
        nonlocal decoder, legacy
        decoder, how, legacy = _not_utf8(data[at:], name)
        notes.append(f"{name} is not all UTF-8 (first at byte {offset - len(held) + at}): {how}; if the text looks "
                     f"wrong, convert it to UTF-8 first: {_iconv(name)}")
        return data[:at].decode("utf-8") + decoder.decode(data[at:], final=final)

    for raw in itertools.chain([head] if head else [], chunks):
        if not wide and b"\0" in raw:
            where = offset + raw.index(b"\0")
            raise DocumentError(f"{name} looks binary (NUL byte at byte {where}), not text")
        held = decoder.getstate()[0]  # the bytes of a character the last chunk began
        try:
            text = decoder.decode(raw)
        except UnicodeDecodeError as exc:  # exc.start counts from the held bytes
            if wide:
                raise DocumentError(f"{name} is not valid {encoding.upper()} at byte "
                                    f"{offset - len(held) + exc.start}") from None
            text = switch(held + raw, exc.start)
        if legacy:
            text = text.translate(_AS_LEGACY)
        if wide and "\0" in text:
            raise DocumentError(f"{name} looks binary (a NUL character in its bytes {offset}-{offset + len(raw)}), "
                                "not text")
        offset += len(raw)
        if first and text:
            text, first = text.removeprefix("\ufeff"), False
        if pending_cr:
            text, pending_cr = "\r" + text, False
        if text.endswith("\r"):
            text, pending_cr = text[:-1], True
        if text:
            yield text.replace("\r\n", "\n").replace("\r", "\n")
    held = decoder.getstate()[0]
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError:  # a character begun at the very end: "Merci, Andr\xe9" in Windows-1252
        if wide:
            raise DocumentError(f"{name} is not valid {encoding.upper()} at byte {offset - len(held)} (a truncated "
                                "character at the end)") from None
        tail = switch(held, 0, final=True)
    if legacy:
        tail = tail.translate(_AS_LEGACY)
    if pending_cr or tail:
        yield ("\n" if pending_cr else "") + tail.replace("\r\n", "\n").replace("\r", "\n")


def _not_utf8(rest: bytes, name: str) -> tuple[codecs.IncrementalDecoder, str, bool]:
    """How to read a text from its first byte that is not UTF-8 on (`decode`): a decoder, what to tell the reader,
    and whether the decoded text's escaped bytes are to be read as Windows-1252."""
    high = sum(b >= 0x80 for b in rest)
    letters = high + sum(97 <= (b | 32) <= 122 for b in rest)
    escaped = sum(0xDC80 <= ord(c) <= 0xDCFF for c in rest.decode("utf-8", "surrogateescape"))
    if letters >= GUESS_LETTERS and high > NON_LATIN * letters and 2 * escaped > high:
        from charset_normalizer import from_bytes  # only for a text that needs it

        guess = from_bytes(rest).best()
        if guess is not None and guess.encoding not in ("utf_8", "ascii") and \
                b"ab\n".decode(guess.encoding, errors="replace") == "ab\n":  # ASCII stays ASCII (not UTF-16)
            return (codecs.getincrementaldecoder(guess.encoding)("replace"),
                    f"from there on read as {guess.encoding} (charset-normalizer's guess)", False)
    return (codecs.getincrementaldecoder("utf-8")("surrogateescape"),
            "each byte that is not UTF-8 read as Windows-1252", True)


def _iconv(name: str) -> str:
    return "iconv -f ENCODING -t UTF-8" if name == "<stdin>" else f"iconv -f ENCODING -t UTF-8 {name} > {name}.utf8"


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            yield block
