"""HTML and XHTML pages (BeautifulSoup over lxml: the text, not the markup), and the chapters of an EPUB
(famcli.documents.formats.epub) through the same walk. Recognised by the suffix (.html, .htm, .xhtml) or a page
that starts with its doctype or <html>. Limits: famcli.common.limits.check_markup (the page's size, since the
parser holds it whole); the walk is linear in the number of nodes whatever the nesting."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

from famcli.common.limits import check_markup
from famcli.documents.base import Document, DocumentError
from famcli.documents.formats.base import Format, Head

SUFFIXES = (".htm", ".html", ".xhtml")


class Html(Format):
    name = "html"
    reads = "HTML"
    suffixes = SUFFIXES
    by_bytes = False

    def recognise(self, head: Head) -> bool:
        start = head.bytes.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        return head.path.suffix.lower() in SUFFIXES or start.startswith((b"<!doctype html", b"<html"))

    def read(self, path: Path, doc: Document, password: str | None) -> Iterator[str]:
        return read_html(path, doc)


BLOCKS = ["p", "div", "section", "article", "header", "footer", "aside", "nav", "main", "h1", "h2", "h3", "h4",
          "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "blockquote", "pre", "figure",
          "figcaption", "hr", "title", "caption", "address", "details", "summary"]
HIDDEN = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object"]
HEADINGS = ["h1", "h2", "h3"]
PRE_NEWLINE, PRE_SPACE = "\x00", "\x01"  # stand-ins while the layout is normalised


def html_text(markup: bytes | str, doc: Document | None = None) -> tuple[str, str | None]:
    """The readable text of an HTML/XHTML page (paragraphs as blank-line separated lines, <pre> kept as is)
    and its first heading; with `doc`, the page's <title> and <meta name="author"> describe it (Document.describe).

    One walk over the parsed tree with an explicit stack, so time is linear in the number of nodes whatever the
    nesting depth or the number of siblings (the tree is never edited: bs4's insert and replace look up a node's
    place among its siblings, which made a long run of paragraphs quadratic)."""
    from bs4 import BeautifulSoup, NavigableString, Tag, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "lxml")
    if doc is not None:
        author = soup.find("meta", attrs={"name": re.compile(r"^\s*author\s*$", re.I)})
        named = soup.title.get_text() if soup.title is not None else None
        doc.describe(named, author.get("content") if isinstance(author, Tag) else None)
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
        text, _ = html_text(raw, doc)
    except Exception as exc:  # noqa: BLE001 - parsers raise many kinds on damaged input
        raise DocumentError(f"{path} is not readable HTML ({type(exc).__name__})") from None
    if not text:
        raise DocumentError(f"{path} is an HTML page with no text")
    return iter([text + "\n"])
