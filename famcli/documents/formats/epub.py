"""EPUB books (ebooklib): the spine in order, chapter by chapter, each named by the table of contents or its
first heading (`doc.place`). Recognised as a ZIP container whose mimetype says EPUB or that holds
META-INF/container.xml. Limits: the container's (famcli.documents.formats.base.check_zip), at most MAX_SPINE spine
entries, each chapter's markup within check_markup; a DRM-encrypted book is refused."""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

from famcli.common.limits import MAX_SPINE, check_markup
from famcli.documents.base import Document, DocumentError
from famcli.documents.formats.base import Format, Head
from famcli.documents.formats.html import html_text


class Epub(Format):
    name = "epub"
    reads = "EPUB"
    suffixes = (".epub",)

    def recognise(self, head: Head) -> bool:
        if head.zip is None:
            return False
        names, mimetype = head.zip
        return mimetype == b"application/epub+zip" or "META-INF/container.xml" in names

    def read(self, path: Path, doc: Document, password: str | None) -> Iterator[str]:
        return read_epub(path, doc)


def read_epub(path: Path, doc: Document) -> Iterator[str]:
    """The book's spine, chapter by chapter; each chapter named by the table of contents (or its heading)."""
    from ebooklib import ITEM_DOCUMENT, epub

    with zipfile.ZipFile(path) as z:
        if "META-INF/encryption.xml" in z.namelist():
            raise DocumentError(f"{path} is an encrypted (DRM-protected) EPUB; famcli cannot read it")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = epub.read_epub(str(path), options={"ignore_ncx": True})
        titles = _toc_titles(book.toc)
        doc.describe(*(", ".join(str(v) for v, _ in book.get_metadata("DC", key) if v) for key in ("title", "creator")))
        chapters, seen = [], set()
        if len(book.spine) > MAX_SPINE:
            raise DocumentError(f"{path} has {len(book.spine):,} spine entries (at most {MAX_SPINE:,})")
        for idref, _linear in book.spine:
            if idref in seen:  # a spine that repeats an item reads it once
                continue
            seen.add(idref)
            item = book.get_item_with_id(idref)
            nav = isinstance(item, epub.EpubNav) or "nav" in (getattr(item, "properties", None) or [])
            if item is not None and item.get_type() == ITEM_DOCUMENT and not nav:  # the TOC page is not text
                chapters.append(item)
    except Exception as exc:  # noqa: BLE001 - ebooklib raises many kinds on damaged books
        raise DocumentError(f"{path} is not a readable EPUB ({type(exc).__name__}: {str(exc)[:100]})") from None
    if not chapters:
        raise DocumentError(f"{path} is an EPUB with no chapters in its spine")
    return _chapters(path, doc, chapters, titles)


def _chapters(path: Path, doc: Document, chapters, titles: dict[str, str]) -> Iterator[str]:
    found = 0
    for item in chapters:
        content = item.get_content()
        check_markup(f"{path}: chapter {item.get_name()}", len(content))
        try:
            text, heading = html_text(content)
        except Exception as exc:  # noqa: BLE001
            raise DocumentError(f"{path}: chapter {item.get_name()} cannot be read ({type(exc).__name__})") from None
        if not text:
            continue
        found += 1
        title = titles.get(item.get_name()) or heading
        if title:
            doc.place = ("chapter", title)
        yield text + "\n\n"
    if not found:
        raise DocumentError(f"{path} has no text in any of its {len(chapters)} chapters")


def _toc_titles(toc) -> dict[str, str]:
    """File name -> the first table-of-contents title pointing into it."""
    from ebooklib import epub

    out: dict[str, str] = {}

    def walk(entries):
        for entry in entries:
            if isinstance(entry, tuple):
                walk([entry[0]])
                walk(entry[1])
            elif isinstance(entry, (epub.Link, epub.Section)) and getattr(entry, "href", None):
                out.setdefault(entry.href.split("#")[0], " ".join(str(entry.title).split()))

    walk(toc)
    return out
