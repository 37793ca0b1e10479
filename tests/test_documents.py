"""Document readers: text encodings, binary and empty files, PDFs (plain, encrypted, scanned), stdin."""

from __future__ import annotations

import os

import pytest
from pdfs import encrypted_pdf, text_pdf

from famcli.documents import DocumentError, open_document, read_stream


def text_of(path, password=None) -> str:
    return "".join(open_document(str(path), password).pieces)


def test_gutenberg_style_text_is_normalised(tmp_path):
    path = tmp_path / "book.txt"
    path.write_bytes("\ufeffCHAPTER I.\r\nAlice was beginning\r\n\r\nto get très tired\r".encode())
    assert text_of(path) == "CHAPTER I.\nAlice was beginning\n\nto get très tired\n"


def test_crlf_split_across_read_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr("famcli.documents.CHUNK_BYTES", 4)
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc\r\ndef\r\n\xc3\xa9t\xc3\xa9\r\n")
    assert text_of(path) == "abc\ndef\nété\n"


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"hello \xff\xfe world", "not valid UTF-8 at byte 6"),
    (b"ok\n\xe2\x82", "truncated character"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "looks binary"),
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
