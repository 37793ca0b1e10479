"""Document readers: text encodings, binary and empty files, PDFs (plain, encrypted, scanned), EPUB, DOCX, HTML,
compressed text, kinds told from content, stdin."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os

import pytest
import zstandard
from samples import (
    docx_report,
    encrypted_pdf,
    epub_book,
    tar_bytes,
    text_pdf,
    zip_bytes,
)

from famcli.documents.registry import DocumentError, open_document, read_stream


def text_of(path, password=None) -> str:
    return "".join(open_document(str(path), password).pieces)


def test_gutenberg_style_text_is_normalised(tmp_path):
    path = tmp_path / "book.txt"
    path.write_bytes("\ufeffCHAPTER I.\r\nAlice was beginning\r\n\r\nto get très tired\r".encode())
    assert text_of(path) == "CHAPTER I.\nAlice was beginning\n\nto get très tired\n"


def test_crlf_split_across_read_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr("famcli.documents.registry.CHUNK_BYTES", 4)
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc\r\ndef\r\n\xc3\xa9t\xc3\xa9\r\n")
    assert text_of(path) == "abc\ndef\nété\n"


def opened(path):
    doc = open_document(str(path))
    return "".join(doc.pieces), doc.notes


def test_a_text_that_is_not_utf8_is_read_as_windows_1252_with_a_note(tmp_path):
    """An old Western text (Latin-1, Windows-1252 with its curly quotes) is read, not refused, and the reader is
    told how; a UTF-8 text with one stray Windows-1252 byte keeps its UTF-8 (a character split across the read's
    chunks included)."""
    path = tmp_path / "old.txt"
    path.write_bytes("Zoë went to Málaga with “Bob”.\n".encode("cp1252"))
    text, notes = opened(path)
    assert text == "Zoë went to Málaga with “Bob”.\n"
    assert len(notes) == 1 and "not all UTF-8 (first at byte 2)" in notes[0] and "Windows-1252" in notes[0]
    path.write_bytes("Zoë went to Málaga. ".encode() + b"Then Zo\xeb went home.\n")
    assert opened(path)[0] == "Zoë went to Málaga. Then Zoë went home.\n"


def test_a_stray_byte_after_a_split_character_is_placed_right(tmp_path, monkeypatch):
    monkeypatch.setattr("famcli.documents.formats.base.CHUNK_BYTES", 2)
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"abcd" + "aé".encode() + b"\x93q\x94 ok\n")  # é split across two chunks, then a stray byte
    text, notes = opened(path)
    assert text == "abcdaé“q” ok\n" and "first at byte 7" in notes[0]


def test_a_character_begun_at_the_very_end_is_read_too(tmp_path):
    path = tmp_path / "end.txt"
    path.write_bytes(b"Merci, Andr\xe9")  # Windows-1252, no newline at the end
    text, notes = opened(path)
    assert text == "Merci, André" and "first at byte 11" in notes[0]


def test_a_utf8_text_in_another_script_with_one_stray_byte_stays_utf8(tmp_path):
    path = tmp_path / "ru.txt"
    russian = "Алиса сидела на берегу реки рядом с сестрой и начинала скучать. Она заглянула в книгу сестры.\n"
    path.write_bytes((russian * 20).encode() + b"\x93" + (russian * 20).encode())
    text, notes = opened(path)
    assert text == russian * 20 + "“" + russian * 20 and "Windows-1252" in notes[0]


def test_a_nul_after_a_byte_that_is_not_utf8_is_still_binary(tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"caf\xe9 " + b"x" * 100 + b"\0\1\2")
    with pytest.raises(DocumentError, match="looks binary"):
        text_of(path)


def test_utf16_and_utf32_with_a_bom_are_read(tmp_path):
    for encoding in ("utf-16", "utf-16-be", "utf-32"):
        path = tmp_path / f"{encoding}.txt"
        bom = {"utf-16-be": b"\xfe\xff"}.get(encoding, b"")
        path.write_bytes(bom + "Zoë lives in Málaga.\r\nShe has a cat.\n".encode(encoding))
        assert opened(path) == ("Zoë lives in Málaga.\nShe has a cat.\n", [])


def test_a_non_latin_legacy_text_is_read_in_the_encoding_guessed_for_it(tmp_path):
    path = tmp_path / "ru.txt"
    russian = "Алиса сидела на берегу реки рядом с сестрой и начинала скучать. Она заглянула в книгу сестры.\n"
    path.write_bytes((russian * 40).encode("cp1251"))
    text, notes = opened(path)
    assert text == russian * 40 and "cp1251" in notes[0] and "charset-normalizer" in notes[0]


def test_a_pdf_word_hyphenated_at_a_line_end_is_one_word_again(tmp_path, caplog):
    path = tmp_path / "book.pdf"
    path.write_bytes(text_pdf(["Victor Franken-\nstein\nlived with his fa-\nther, in the Anglo-\nSaxon style."]))
    text = text_of(path)
    assert "Victor Frankenstein\nlived with his father,\n in the Anglo-\nSaxon style." in text  # no blank line
    broken = tmp_path / "broken.pdf"  # a cross-reference table pypdf must repair: its warning is not the reader's
    broken.write_bytes(text_pdf(["Some text."]).replace(b"startxref\n", b"startxref\n1"))
    assert "Some text." in text_of(broken)
    assert not [r for r in caplog.records if r.name.startswith("pypdf")], caplog.text


def test_characters_that_show_nothing_are_left_out(tmp_path):
    """A soft hyphen or a zero-width space inside a name (web pages, EPUBs) would hide it from a search; the
    zero-width joiner of an emoji stays."""
    path = tmp_path / "shy.txt"
    path.write_text("Victor Fran\u00adken\u00adstein met Al\u200bice\ufeff at the\u2060 inn. 👩\u200d🔬\n",
                    encoding="utf-8")
    assert opened(path)[0] == "Victor Frankenstein met Alice at the inn. 👩\u200d🔬\n"


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "looks binary"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "a PNG image, not a document famcli reads"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 20, "old Office file"),
    (zip_bytes({"a.txt": b"x"}), "is a ZIP archive"),
    (zip_bytes({"mimetype": b"application/vnd.oasis.opendocument.text"}), "OpenDocument"),
    (b"PK\x03\x04 damaged", "damaged ZIP"),
    (tar_bytes(), "tar archive"),
    (tar_bytes("gz"), "gzip-compressed archive"),
    (bz2.compress(text_pdf(["x"])), "bz2-compressed PDF"),
    (gzip.compress(b"a log line\n" * 1000)[:-30], "truncated gzip"),
    (b"\x1f\x8b\x08\x00 not really gzip at all", "damaged gzip"),
    (b"\x28\xb5\x2f\xfd not zstd", "damaged zstd"),
    (b"<html><body><script>x</script></body></html>", "HTML page with no text"),
])
def test_bad_text_files(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=message):
        text_of(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DocumentError, match="no such file"):
        open_document(str(tmp_path / "nope.txt"))
    with pytest.raises(DocumentError, match="is a directory"):
        open_document(str(tmp_path))


def test_pdf_pages_are_read_in_order(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(text_pdf(["The auditors concluded the accounts were fair.", "Page two says goodbye."]))
    text = text_of(path)
    assert text.index("auditors concluded") < text.index("Page two")


def test_pdf_with_some_pages_without_text_is_noted(tmp_path):
    path = tmp_path / "mixed.pdf"
    path.write_bytes(text_pdf(["Some text.", ""]))
    doc = open_document(str(path))
    assert "Some text." in "".join(doc.pieces)
    assert doc.notes and "1 of 2 PDF pages" in doc.notes[0]


@pytest.mark.parametrize("content,password,message", [
    (text_pdf(["", ""]), None, "no extractable text"),
    (b"%PDF-1.4\n garbage garbage", None, "not a readable PDF"),
    (encrypted_pdf(["secret text"], "pw"), None, "encrypted: pass --password"),
    (encrypted_pdf(["secret text"], "pw"), "wrong", "wrong password"),
])
def test_bad_pdfs(tmp_path, content, password, message):
    path = tmp_path / "x.pdf"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=message):
        text_of(path, password)


def test_encrypted_pdf_with_password(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf(["secret text"], "pw"))
    assert "secret text" in text_of(path, "pw")


def test_stream_yields_before_eof():
    """Text written to a pipe is read before the writer closes it (tail -f)."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"first line\n")
    pieces = read_stream(read_fd)
    assert next(pieces) == "first line\n"
    os.write(write_fd, b"second\n")
    assert next(pieces) == "second\n"
    os.close(write_fd)
    assert list(pieces) == []
    os.close(read_fd)


CHAPTERS = [("Chapter One: The Harbour", "Mira counted the boats.\n\nThe tide was low."),
            ("Chapter Two: The Lighthouse", "The keeper, Anselm, kept a red notebook."),
            ("Chapter Three: The Storm", "Rain fell on Port Ellery for nine days.")]


def places(doc) -> list:
    """(place, first words) of each piece, as the recall index would note them."""
    return [(doc.place, piece.split()[0]) for piece in doc.pieces]


def test_epub_chapters_in_spine_order_with_titles(tmp_path):
    path = tmp_path / "book.epub"
    epub_book(CHAPTERS, path)
    doc = open_document(str(path))
    assert doc.kind == "epub"
    seen = places(doc)
    assert [p for p, _ in seen] == [("chapter", t) for t, _ in CHAPTERS]
    text = text_of(path)
    assert text.index("Mira counted") < text.index("red notebook") < text.index("nine days")
    assert "Chapter Two: The Lighthouse\n\nThe keeper" in text  # titles kept, paragraphs apart
    assert "<p>" not in text and "</" not in text


def test_docx_paragraphs_tables_and_sections(tmp_path):
    path = tmp_path / "report.docx"
    docx_report([("h1", "Findings"), ("p", "The auditors concluded the accounts were fair."),
                 ("table", "Year|Revenue;2024|12 million"), ("h1", "Risks"), ("p", "Currency exposure is high.")],
                path)
    doc = open_document(str(path))
    assert doc.kind == "docx"
    seen = places(doc)
    assert seen[1] == (("section", "Findings"), "The")
    assert seen[-1] == (("section", "Risks"), "Currency")
    text = text_of(path)
    assert "Year | Revenue\n2024 | 12 million" in text
    assert text.index("auditors") < text.index("Revenue") < text.index("Currency")


def test_html_text_not_markup(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<!DOCTYPE html><html><head><title>T</title><style>p {color: red}</style>"
                    "<script>var secret = 1;</script></head><body><h1>Report</h1><p>First  paragraph\n"
                    "continues.</p><p>Second<br>line</p><pre>  code\n    indented</pre></body></html>")
    assert text_of(path) == "Report\n\nFirst paragraph continues.\n\nSecond\nline\n\n  code\n    indented\n"


def test_html_encoding_from_meta_charset(tmp_path):
    path = tmp_path / "latin.htm"
    path.write_bytes('<html><head><meta charset="iso-8859-1"></head><body><p>caf\xe9 cr\xe8me</p></body></html>'
                     .encode("latin-1"))
    assert text_of(path) == "café crème\n"


def compress(kind: str, data: bytes) -> bytes:
    return {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress,
            "zst": zstandard.ZstdCompressor().compress}[kind](data)


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zst"])
def test_compressed_text_by_content(tmp_path, kind):
    """The suffix is ignored: a compressed log named .log is decompressed, CRLF normalised as for text."""
    path = tmp_path / "app.log"
    path.write_bytes(compress(kind, b"12:00 start\r\n" * 5000 + b"12:01 done\r\n"))
    text = text_of(path)
    assert text.startswith("12:00 start\n") and text.endswith("12:01 done\n") and len(text) == 12 * 5000 + 11


def test_concatenated_gzip_members(tmp_path):
    path = tmp_path / "rotated.gz"
    path.write_bytes(gzip.compress(b"first part\n") + gzip.compress(b"second part\n"))
    assert text_of(path) == "first part\nsecond part\n"


def test_kind_from_content_when_the_suffix_is_wrong(tmp_path):
    pdf = tmp_path / "report.txt"
    pdf.write_bytes(text_pdf(["The auditors concluded."]))
    assert "auditors concluded" in text_of(pdf)
    book = tmp_path / "book"
    epub_book(CHAPTERS, book)
    assert open_document(str(book)).kind == "epub"
    text = tmp_path / "notes.pdf"
    text.write_text("plain text named like a PDF\n")
    assert text_of(text) == "plain text named like a PDF\n"
    page = tmp_path / "saved_page"
    page.write_text("  <html><body><p>Hello</p></body></html>")
    assert text_of(page) == "Hello\n"


@pytest.mark.parametrize("make,message", [
    (lambda p: epub_book(CHAPTERS, p, encrypted=True), "DRM"),
    (lambda p: p.write_bytes(zip_bytes({"mimetype": b"application/epub+zip"})), "not a readable EPUB"),
    (lambda p: epub_book([(" ", " ")], p), "no text in any of its"),
    (lambda p: p.write_bytes(zip_bytes({"word/document.xml": b"<not-docx"})), "not a readable DOCX"),
    (lambda p: docx_report([("p", " ")], p), "DOCX with no text"),
])
def test_bad_epub_and_docx(tmp_path, make, message):
    path = tmp_path / "doc"
    make(path)
    with pytest.raises(DocumentError, match=message):
        text_of(path)


@pytest.mark.parametrize("kind", ["plain", "gz", "zst"])
def test_stdin_compressed_or_not(kind):
    data = b"line one\nline two\n" * 300
    read_fd, write_fd = os.pipe()
    pieces = read_stream(read_fd)
    os.write(write_fd, data if kind == "plain" else compress(kind, data))
    os.close(write_fd)
    assert "".join(pieces) == data.decode()
    os.close(read_fd)


def test_stdin_shorter_than_a_magic_number():
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"B")
    os.close(write_fd)
    assert "".join(read_stream(read_fd)) == "B"
    os.close(read_fd)


def test_a_toy_format_plugs_in_with_one_class_and_one_registry_line(tmp_path):
    """A format is one class (how it is recognised, how it is read) and one `register` line: a file that starts
    with "ROT13" is read decoded, whatever its name; `batch` finds its suffix in a folder; messages list it."""
    import codecs

    from famcli.common.errors import UserError
    from famcli.documents import formats
    from famcli.documents.formats.base import Format
    from famcli.batch.runner import find_documents

    class Rot13(Format):
        name, reads, suffixes = "rot13", "ROT13 text", (".r13",)

        def recognise(self, head):
            return head.bytes.startswith(b"ROT13\n")

        def read(self, path, doc, password):
            return iter([codecs.decode(path.read_text()[6:], "rot13")])

    secret = tmp_path / "secret.r13"
    secret.write_text("ROT13\nUryyb, jbeyq.\n")
    formats.register(Rot13())
    try:
        doc = open_document(str(secret))
        assert doc.kind == "rot13" and "".join(doc.pieces) == "Hello, world.\n"
        assert ".r13" in formats.suffixes() and "ROT13 text" in formats.reads()
        assert find_documents([str(tmp_path)]) == [secret]
    finally:
        formats.unregister("rot13")
    assert open_document(str(secret)).kind == "text" and "ROT13" not in formats.reads()
    with pytest.raises(UserError, match="no documents to read"):
        find_documents([str(tmp_path)])


def test_every_format_says_what_it_is_and_must_say_how_it_is_read():
    """Each registered format has its own kind, a name for messages and suffixes; a format without `read` (or
    `recognise`) cannot be made; built-in formats cannot be unregistered."""
    from famcli.documents import formats
    from famcli.documents.formats.base import Format

    found = formats.formats()
    assert [f.name for f in found] == ["pdf", "compressed", "epub", "docx", "html", "text"]
    assert all(f.reads and f.suffixes for f in found)
    assert formats.reads() == ("text, Markdown, logs, HTML, PDF, gzip/bz2/xz/zstd-compressed text, EPUB and "
                               "DOCX")

    class Unreadable(Format):
        name, reads = "none", "nothing"

        def recognise(self, head):
            return False

    with pytest.raises(TypeError):
        Unreadable()
    with pytest.raises(ValueError):
        formats.unregister("pdf")
