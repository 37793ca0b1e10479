"""Readers for the structured formats: EPUB (ebooklib, in spine order, chapters named), DOCX (python-docx,
paragraphs and tables in body order, sections named by their headings) and HTML (BeautifulSoup over lxml:
the text, not the markup).

Each reader checks the file when it is opened (so a damaged one fails before a long read starts) and then
yields the text one chapter, section or paragraph at a time, each piece ending in a newline, with
`doc.place` naming where the piece comes from (the recall index keeps it for the answer's sources).
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

from famcli.common.limits import MAX_SPINE, check_markup
from famcli.documents.base import Document, DocumentError

BLOCKS = ["p", "div", "section", "article", "header", "footer", "aside", "nav", "main", "h1", "h2", "h3", "h4",
          "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "blockquote", "pre", "figure",
          "figcaption", "hr", "title", "caption", "address", "details", "summary"]
HIDDEN = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object"]
HEADINGS = ["h1", "h2", "h3"]
PRE_NEWLINE, PRE_SPACE = "\x00", "\x01"  # stand-ins while the layout is normalised


def html_text(markup: bytes | str) -> tuple[str, str | None]:
    """The readable text of an HTML/XHTML page (paragraphs as blank-line separated lines, <pre> kept as is)
    and its first heading.

    One walk over the parsed tree with an explicit stack, so time is linear in the number of nodes whatever the
    nesting depth or the number of siblings (the tree is never edited: bs4's insert and replace look up a node's
    place among its siblings, which made a long run of paragraphs quadratic)."""
    from bs4 import BeautifulSoup, NavigableString, Tag, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "lxml")
    blocks, hidden, headings = set(BLOCKS), set(HIDDEN), set(HEADINGS)
    pieces: list[str] = []
    title: str | None = None
    heading_at: int | None = None  # where the first heading's text starts in pieces, while it is open
    preformatted = 0
    stack: list[tuple[Tag, Iterator]] = [(soup, iter(soup.contents))]
    while stack:
        tag, children = stack[-1]
        node = next(children, None)
        if node is None:  # the tag ends
            stack.pop()
            if tag.name in blocks:
                pieces.append("\n\n")
            if tag.name == "pre":
                preformatted -= 1
            if heading_at is not None and tag.name in headings:
                said = " ".join(pieces[heading_at:]).replace(PRE_NEWLINE, " ").replace(PRE_SPACE, " ")
                title = " ".join(said.split()) or None
                heading_at = None
            continue
        if isinstance(node, NavigableString):
            if type(node) is not NavigableString:  # comments, doctype, CDATA, processing instructions
                continue
            if preformatted:  # its spaces and newlines survive the clean-up below
                pieces.append(str(node).replace("\n", PRE_NEWLINE).replace(" ", PRE_SPACE))
            else:
                pieces.append(re.sub(r"\s+", " ", str(node)))
        elif isinstance(node, Tag) and node.name not in hidden:
            if node.name == "br":
                pieces.append("\n")
            if node.name in blocks:
                pieces.append("\n\n")
            if node.name == "pre":
                preformatted += 1
            if node.name in headings and title is None and heading_at is None:
                heading_at = len(pieces)
            stack.append((node, iter(node.contents)))
    lines = [line.strip() for line in "".join(pieces).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    text = text.replace(PRE_NEWLINE, "\n").replace(PRE_SPACE, " ")
    return text, title


def read_html(path: Path, doc: Document) -> Iterator[str]:
    """A whole HTML page (its encoding from its BOM, meta charset or content, as browsers do)."""
    try:
        check_markup(str(path), path.stat().st_size)  # a LimitError, not caught here
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text, _ = html_text(raw)
    except Exception as exc:  # noqa: BLE001 - parsers raise many kinds on damaged input
        raise DocumentError(f"{path} is not readable HTML ({type(exc).__name__})") from None
    if not text:
        raise DocumentError(f"{path} is an HTML page with no text")
    return iter([text + "\n"])


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


def read_docx(path: Path, doc: Document) -> Iterator[str]:
    """Paragraphs and tables in body order; a heading names the section that follows it."""
    import docx

    try:
        document = docx.Document(str(path))
        blocks = list(document.iter_inner_content())
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds on damaged files
        raise DocumentError(f"{path} is not a readable DOCX ({type(exc).__name__}: {str(exc)[:100]})") from None
    return _docx_blocks(path, doc, blocks)


def _docx_blocks(path: Path, doc: Document, blocks) -> Iterator[str]:
    from docx.table import Table

    found = False
    for block in blocks:
        if isinstance(block, Table):
            rows = [" | ".join(" ".join(c.text.split()) for c in row.cells) for row in block.rows]
            text = "\n".join(r for r in rows if r.strip(" |"))
        else:
            text = block.text.strip()
            style = (block.style.name if block.style is not None else "") or ""
            if text and style.startswith(("Heading", "Title")):
                doc.place = ("section", " ".join(text.split()))
        if text:
            found = True
            yield text + "\n\n"
    if not found:
        raise DocumentError(f"{path} is a DOCX with no text")
