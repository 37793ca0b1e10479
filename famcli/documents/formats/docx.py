"""Word documents (python-docx): paragraphs and tables in body order, a heading naming the section that follows
it (`doc.place`). Recognised as a ZIP container that holds word/document.xml. Limits: the container's
(famcli.documents.formats.base.check_zip)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from famcli.documents.base import Document, DocumentError
from famcli.documents.formats.base import Format, Head


class Docx(Format):
    name = "docx"
    reads = "DOCX"
    suffixes = (".docx",)

    def recognise(self, head: Head) -> bool:
        return head.zip is not None and "word/document.xml" in head.zip[0]

    def read(self, path: Path, doc: Document, password: str | None) -> Iterator[str]:
        return read_docx(path, doc)


def read_docx(path: Path, doc: Document) -> Iterator[str]:
    """Paragraphs and tables in body order; a heading names the section that follows it."""
    import docx

    try:
        document = docx.Document(str(path))
        blocks = list(document.iter_inner_content())
        doc.describe(document.core_properties.title, document.core_properties.author)
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
