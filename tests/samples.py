"""Documents for the reader tests: small PDFs written byte by byte, EPUBs and DOCX files written with the
libraries famcli reads them with."""

from __future__ import annotations


def text_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one Helvetica text line per page (a page's "\n" starts a new line; '' makes a page with no
    text)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        shown = " T* ".join(f"({line}) Tj" for line in text.split("\n"))
        body = f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode() if text else b""
        objects.append(f"<< /Length {len(body)} >>\nstream\n".encode() + body + b"\nendstream")
        content = len(objects)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R "
                       f"/Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + (obj if isinstance(obj, bytes) else obj.encode()) + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypted_pdf(pages: list[str], password: str) -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(pages))))
    writer.encrypt(password, algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def described_pdf(pages: list[str], title: str, author: str) -> bytes:
    """`text_pdf` with a document information dictionary (title, author), written with pypdf."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(pages))))
    writer.add_metadata({"/Title": title, "/Author": author})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def epub_book(chapters: list[tuple[str, str]], path, encrypted: bool = False, author: str | None = None) -> None:
    """An EPUB written with ebooklib: one XHTML file per (title, text) chapter, in spine order, with a TOC."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("famcli-test")
    book.set_title("A Test Book")
    book.set_language("en")
    if author:
        book.add_author(author)
    items = []
    for i, (title, text) in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=title, file_name=f"chap_{i}.xhtml", lang="en")
        paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
        heading = f"<h1>{title}</h1>" if title.strip() else ""
        item.content = f"<html><body>{heading}{paragraphs}</body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
    if encrypted:
        import zipfile

        with zipfile.ZipFile(path, "a") as z:
            z.writestr("META-INF/encryption.xml", "<encryption/>")


def docx_report(blocks: list[tuple[str, str]], path, author: str | None = None) -> None:
    """A DOCX written with python-docx: ("h1", text) headings, ("p", text) paragraphs, ("table", "a|b;c|d")."""
    import docx

    document = docx.Document()
    if author:
        document.core_properties.author = author
    for kind, text in blocks:
        if kind == "h1":
            document.add_heading(text, level=1)
        elif kind == "table":
            rows = [r.split("|") for r in text.split(";")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        else:
            document.add_paragraph(text)
    document.save(str(path))


def zip_bytes(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def tar_bytes(compression: str = "") -> bytes:
    """A tar archive holding one small file (`compression`: "" or "gz")."""
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=f"w:{compression}") as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    return out.getvalue()
