"""--until: a spoiler-safe reading. Nothing after the point is read, so no answer, note or summary can hold it."""

from __future__ import annotations

import json

import pytest
from samples import epub_book

from famcli.__main__ import main
from famcli.documents.until import Until, chapter_number, roman

BOOK = ("CHAPTER I. The Mill\n\nThe red fox lives in the forest near the old mill. The miller feeds the fox.\n\n"
        "CHAPTER II. The Storm\n\nA storm broke the mill wheel. The miller and the fox hid in the barn.\n\n"
        "CHAPTER III. The Secret\n\nThe butler poisoned the miller. The fox saw it from the barn.\n\n")


def run(capsys, *args):
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("text, kind, value", [
    ("40%", "share", 0.4), ("page 12", "page", 12), ("p. 3", "page", 3), ("chapter 5", "chapter", 5),
    ("Chapter V", "chapter", 5), ("ch XII", "chapter", 12),
    ("chapter The Pool of Tears", "chapter", "the pool of tears"),
])
def test_until_reads_what_a_reader_writes(text, kind, value):
    until = Until.parse(text)
    assert (until.kind, until.value) == (kind, value)


@pytest.mark.parametrize("text", ["0%", "150%", "page 0", "yesterday", "", "chapter", "ch.", "chapter 0",
                                  "chapter ..."])
def test_until_refuses_what_is_no_point(text):
    with pytest.raises(ValueError):
        Until.parse(text)


def test_chapter_numbers_from_headings():
    assert [roman("XIV"), roman("MCMXC"), roman("IIII"), roman("river")] == [14, 1990, None, None]
    assert chapter_number("CHAPTER V. The Pool of Tears") == 5 and chapter_number("Chapter 12") == 12
    assert chapter_number("VII. THE ADVENTURE OF THE BLUE CARBUNCLE") == 7 and chapter_number("Prologue") is None


def test_ask_until_a_chapter_reads_nothing_after_it(tiny, tmp_path, capsys):
    book = tmp_path / "book.txt"
    book.write_text(BOOK)
    code, out, err = run(capsys, "ask", book, "Who poisoned the miller?", "--model", tiny, "--json", "-q",
                         "--until", "chapter 2")
    result = json.loads(out)
    assert code == 0 and "butler" not in out and "poison" not in result["answer"].lower()
    code, out, _ = run(capsys, "ask", book, "Who poisoned the miller?", "--model", tiny, "--json", "-q")
    assert code == 0 and "butler" in out  # the whole book holds it


def test_summarize_until_a_chapter_or_a_share(tiny, tmp_path, capsys):
    book = tmp_path / "book.txt"
    book.write_text(BOOK)
    code, out, _ = run(capsys, "summarize", book, "--model", tiny, "--json", "-q", "--until", "Chapter II")
    result = json.loads(out)
    assert code == 0 and "storm" in out.lower() and "butler" not in out
    assert all(s["place"] in ("CHAPTER I. The Mill", "CHAPTER II. The Storm", "CHAPTER I. The Mill - CHAPTER II. "
                              "The Storm") for s in result["sections"])
    code, out, _ = run(capsys, "summarize", book, "--model", tiny, "--json", "-q", "--until", "45%")
    assert code == 0 and "storm" in out.lower() and "butler" not in out


def test_chat_until_an_epub_chapter(tiny, tmp_path, capsys, monkeypatch):
    import io

    book = tmp_path / "book.epub"
    epub_book([("Chapter 1", "The red fox lives in the forest near the old mill."),
               ("Chapter 2", "A storm broke the mill wheel, and the fox hid in the barn."),
               ("Chapter 3", "The butler poisoned the miller, and the fox saw it.")], book)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Who poisoned the miller?\n")))
    code, out, _ = run(capsys, "chat", book, "--model", tiny, "--json", "-q", "--until", "chapter 2")
    assert code == 0 and "butler" not in out and json.loads(out.splitlines()[0])["answer"]
    code, out, _ = run(capsys, "summarize", book, "--model", tiny, "--json", "-q", "--until", "chapter 2")
    assert code == 0 and "storm" in out and "butler" not in out


def test_until_a_chapter_the_book_lacks_is_one_error_before_any_answer(tiny, tmp_path, capsys):
    book = tmp_path / "book.txt"
    book.write_text(BOOK)
    code, out, err = run(capsys, "ask", book, "Who poisoned the miller?", "--model", tiny, "--until", "chapter 9")
    assert code == 1 and out == "" and "has no such chapter" in err and "CHAPTER III. The Secret" in err
    assert len(err.strip().splitlines()) == 1


def test_until_is_not_for_a_saved_reading(tiny, tmp_path, capsys):
    book = tmp_path / "book.txt"
    book.write_text(BOOK)
    code, _, err = run(capsys, "ask", book, "Who?", "--model", tiny, "--until", "50%", "--load-state", tmp_path / "x")
    assert code == 1 and "--until cuts a reading" in err


def test_a_table_of_contents_and_letters_are_not_chapters(tiny, tmp_path, capsys):
    """Heading lines with nothing between them (a table of contents) neither find a chapter nor end one, and
    "chapter 2" is not "Letter 2"."""
    contents = ("Contents\n\nLetter 1\n\nLetter 2\n\nCHAPTER I. The Mill\n\nCHAPTER II. The Storm\n\n"
                "CHAPTER III. The Secret\n\n")
    letters = "Letter 1\n\nDear sister, the ship sails.\n\nLetter 2\n\nDear sister, the ice closes in.\n\n"
    book = tmp_path / "book.txt"
    book.write_text(contents + letters + BOOK)
    code, out, _ = run(capsys, "summarize", book, "--model", tiny, "--json", "-q", "--until", "chapter 2")
    assert code == 0 and "storm" in out.lower() and "butler" not in out and "ice closes" in out


def test_an_epub_chapter_named_by_title_words_is_read_whole(tiny, tmp_path, capsys):
    book = tmp_path / "book.epub"
    epub_book([("Down the Hole", "CHAPTER I.\n\nThe red fox lives in the forest near the old mill."),
               ("The Pool", "CHAPTER II.\n\nA storm broke the mill wheel, and the fox hid in the barn."),
               ("The Secret", "CHAPTER III.\n\nThe butler poisoned the miller, and the fox saw it.")], book)
    code, out, _ = run(capsys, "summarize", book, "--model", tiny, "--json", "-q", "--until", "chapter the pool")
    assert code == 0 and "storm" in out and "butler" not in out


def test_where_someone_is_now_is_as_of_the_point_read(tiny, tmp_path, capsys):
    book = tmp_path / "story.txt"
    book.write_text("CHAPTER I. Morning\n\nMary went to the kitchen. The kettle sang.\n\n"
                    "CHAPTER II. Noon\n\nMary moved to the garden. The bees were loud.\n\n"
                    "CHAPTER III. Night\n\nMary travelled to the office. The lamps were lit.\n\n")
    rules = ("--answer-rules", "now_places=off")  # the tiny model's judgement of a place is noise
    code, out, _ = run(capsys, "ask", book, "Where is Mary now?", "--model", tiny, "--json", "-q", *rules,
                       "--until", "chapter 2")
    result = json.loads(out)
    assert code == 0 and (result["answer_path"], result["short"]) == ("latest", "the garden")
    code, out, _ = run(capsys, "ask", book, "Where is Mary now?", "--model", tiny, "--json", "-q", *rules)
    assert code == 0 and json.loads(out)["short"] == "the office"
