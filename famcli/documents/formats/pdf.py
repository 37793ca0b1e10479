"""PDF (pypdf): page by page from an open file handle, each page's text ending in a blank line, `doc.place` the
page. Recognised by %PDF- at its start. An encrypted file needs the right --password; pages without text
(scanned images) are skipped and noted, and a PDF with none fails. A word hyphenated at a line's end is joined
again ("Franken-" + "stein"). pypdf's own warnings on damaged cross-references (which it repairs) are not shown.
Limits: pypdf's own (its parser is bounded per object); a page that cannot be read ends the read with its number."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

from famcli.documents.base import Document, DocumentError
from famcli.documents.formats.base import Format, Head


class Pdf(Format):
    name = "pdf"
    reads = "PDF"
    suffixes = (".pdf",)
    magic = (b"%PDF-",)

    def recognise(self, head: Head) -> bool:
        return head.bytes.startswith(b"%PDF-")

    def read(self, path: Path, doc: Document, password: str | None) -> Iterator[str]:
        return read_pdf(path, password, doc)


logging.getLogger("pypdf").setLevel(logging.ERROR)  # "incorrect startxref pointer": pypdf repairs it, quietly


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
        _describe(reader, doc)
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


def _describe(reader, doc: Document) -> None:
    """The PDF's title and author from its document information (Document.describe); a damaged one is noted, not
    fatal: the pages may still be read."""
    try:
        meta = reader.metadata
        if meta is not None:
            doc.describe(meta.title, meta.author)
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on damaged dictionaries
        doc.notes.append(f"its document information (title, author) cannot be read ({type(exc).__name__})")


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
            yield dehyphenated(text.replace("\r\n", "\n")).rstrip() + "\n\n"
    finally:
        handle.close()
    if empty == n_pages:
        raise DocumentError(f"{path} has no extractable text on any of its {n_pages} pages (scanned images?)")
    if empty:
        doc.notes.append(f"{empty} of {n_pages} PDF pages had no extractable text (scanned?) and were skipped")


_BROKEN = re.compile(r"([^\W\d_])[-\u00ad\u2010][ \t]*\n[ \t]*([^\W\d_]\S*)([ \t]*\n?)")


def dehyphenated(text: str) -> str:
    r"""A page's words hyphenated at a line's end joined again: "Franken-\nstein" is Frankenstein to a search and
    to the model (a hyphen, a soft hyphen or U+2010). Only when the line goes on in lower case ("Anglo-\nSaxon"
    keeps its hyphen); the line break moves after the word and its punctuation. A compound broken at its own
    hyphen ("well-\nknown") loses it, as in other PDF tools' dehyphenation (PyMuPDF's): a word is found far more
    often than a compound is split there."""
    for _ in range(2):  # twice: a word over three lines ("Fran-", "ken-", "stein")
        text = _BROKEN.sub(lambda m: m[0] if not m[2][0].islower() else
                           m[1] + m[2] + (m[3] if "\n" in m[3] else "\n" + m[3]), text)
    return text
