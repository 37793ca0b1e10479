"""summarize's outline: each chapter's title and a sentence of its own, in order, for plain text headings and an
EPUB's chapters; none for a document without chapters."""

from __future__ import annotations

import json

from samples import epub_book
from test_until import BOOK, run


def test_a_plain_text_outline_has_each_chapter_and_its_own_sentence(tiny, tmp_path, capsys):
    book = tmp_path / "book.txt"
    book.write_text(BOOK)
    code, out, _ = run(capsys, "summarize", book, "--model", tiny, "--json", "-q")
    outline = json.loads(out)["outline"]
    assert code == 0 and [c["chapter"] for c in outline] == ["CHAPTER I. The Mill", "CHAPTER II. The Storm",
                                                             "CHAPTER III. The Secret"]
    chapters = BOOK.split("CHAPTER")[1:]
    assert all(c["line"] and c["line"] in text for c, text in zip(outline, chapters)), outline
    code, out, _ = run(capsys, "summarize", book, "--model", tiny, "-q", "--outline")
    assert code == 0 and out.startswith("Outline:\nCHAPTER I. The Mill: ") and "\nSummary:\n" in out


def test_an_epub_outline_and_none_without_chapters(tiny, tmp_path, capsys):
    book = tmp_path / "book.epub"
    epub_book([("The Mill", "The red fox lives in the forest near the old mill."),
               ("The Storm", "A storm broke the mill wheel, and the fox hid in the barn.")], book)
    code, out, _ = run(capsys, "summarize", book, "--model", tiny, "--json", "-q")
    outline = json.loads(out)["outline"]
    assert code == 0 and [c["chapter"] for c in outline] == ["The Mill", "The Storm"]
    assert "storm" in outline[1]["line"] and "storm" not in outline[0]["line"]
    plain = tmp_path / "plain.txt"
    plain.write_text("The red fox lives in the forest near the old mill. A storm broke the mill wheel.\n" * 5)
    code, out, _ = run(capsys, "summarize", plain, "--model", tiny, "-q", "--outline")
    assert code == 0 and "Outline: the document has no chapters" in out


def test_each_note_of_an_epub_names_the_chapter_its_text_is_from(tiny, tmp_path, capsys):
    """The boilerplate cleaner reads ~60k characters ahead of what it lets through (it looks for a Gutenberg
    header there), so the reader's place when a section is written was chapters ahead of the section's text: every
    note of Alice's first third said "Pig and Pepper". The place now travels with the text."""
    animals = ["fox", "owl", "hare", "wolf", "bear", "crow"]
    chapters = [(f"The {a.title()}", " ".join([f"The {a} walked to the {a} house by the river."] * 300))
                for a in animals]  # ~17k characters each: the first section is read long before 60k come out
    book = tmp_path / "book.epub"
    epub_book(chapters, book)
    code, out, _ = run(capsys, "summarize", book, "--model", tiny, "--json", "-q")
    sections = json.loads(out)["sections"]
    assert code == 0 and len(sections) >= 6
    assert sections[0]["place"] == "chapter The Fox"
    for s in sections:
        named = [a for a in animals if f"The {a.title()}" in s["place"]]
        assert named and animals.index(named[0]) <= animals.index(next(a for a in animals if a in s["note"])), s
    assert "The Crow" in sections[-1]["place"]
