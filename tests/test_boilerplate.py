"""What is not the work (famcli.documents.boilerplate): Gutenberg headers and licences, contents, PDF running heads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from famcli.documents.boilerplate import clean, clean_pages, clean_text

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
LICENCE = "*** START: FULL LICENSE ***\nTHE FULL PROJECT GUTENBERG LICENSE\nPLEASE READ THIS BEFORE YOU DISTRIBUTE.\n"


def gutenberg_book() -> str:
    chapters = "".join(f"CHAPTER {n}. The {word} Door\n\nMara opened the {word} door in chapter {n}. "
                       f"{'It creaked. ' * 30}\n\n" for n, word in zip("I II III IV".split(), ["red", "blue", "green",
                                                                                              "last"]))
    return ("The Project Gutenberg EBook of The Doors, by A. Writer\n\nThis eBook is for the use of anyone "
            "anywhere at no cost.\n\n*** START OF THIS PROJECT GUTENBERG EBOOK THE DOORS ***\n\n\n"
            "Produced by Some Volunteers\nand Others.\n\n\nTHE DOORS\n\nby A. Writer\n\n\nCONTENTS\n\n"
            "CHAPTER I. The red Door\nCHAPTER II. The blue Door\nCHAPTER III. The green Door\n"
            "CHAPTER IV. The last Door\n\n\n" + chapters +
            "End of the Project Gutenberg EBook of The Doors, by A. Writer\n\n"
            "*** END OF THIS PROJECT GUTENBERG EBOOK THE DOORS ***\n\n" + LICENCE)


def test_gutenberg_header_credit_contents_and_licence_go_the_work_stays():
    out = "".join(clean_text([gutenberg_book()]))
    assert out.strip().startswith("THE DOORS") and "by A. Writer" in out
    for gone in ("eBook is for the use", "Produced by", "CONTENTS", "End of the Project", "LICENSE", "***"):
        assert gone not in out
    assert out.count("CHAPTER II. The blue Door") == 1  # the heading in the text, not its contents line
    assert "Mara opened the last door in chapter IV." in out


def test_a_transcribers_note_on_the_edition_goes():
    note = ("Original Transcriber's Notes:\n\n\nThis text is a combination of etexts, one from an old\n"
            "archive and one from Project Gutenberg's.\n\n\n")
    book = gutenberg_book().replace("THE DOORS\n\nby A. Writer", "THE DOORS\n\nby A. Writer\n\n" + note, 1)
    out = "".join(clean_text([book]))
    assert "etexts" not in out and "Transcriber" not in out and "Mara opened the red door" in out
    numbered = gutenberg_book().replace("by A. Writer", "by A. Writer\n\nTHE HARBOUR EDITION 2.1", 1)
    out = "".join(clean_text([numbered]))  # an edition's number on the title page (Alice: FULCRUM EDITION 3.0)
    assert "EDITION 2.1" not in out and "by A. Writer" in out and "Mara opened the red door" in out
    text = "A story.\n\nShe read an ebook about etexts on the train.\n"  # no Gutenberg header: all kept
    assert "".join(clean_text([text])) == text


def test_pieces_of_any_size_give_the_same_text():
    book = gutenberg_book()
    whole = "".join(clean_text([book]))
    assert "".join(clean_text(book[i:i + 37] for i in range(0, len(book), 37))) == whole


def test_text_without_boilerplate_is_unchanged():
    text = "A plain report.\nChapter 1 is mentioned once here.\n\nThe end.\n"
    assert "".join(clean_text([text])) == text


def test_pdf_running_headers_footers_and_page_numbers_go():
    words = "north south east west up down left right".split()
    pages = [f"ACME Annual Report 2024\nQuarter {n} revenue rose by {n * 3} percent.\nThe {words[n - 1]} office "
             f"grew.\nStaff: {n * 10}.\nConfidential - page {n} of 8\n" for n in range(1, 9)]
    pages[3] = f"{4}\n" + pages[3]  # a bare page number at the top of one page
    out = list(clean(pages, "pdf"))
    assert len(out) == 8
    for n, page in enumerate(out, 1):
        assert "ACME Annual Report" not in page and "Confidential" not in page
        assert f"Quarter {n} revenue rose by {n * 3} percent." in page and f"Staff: {n * 10}." in page
    assert not out[3].startswith("4")
    assert list(clean_pages(pages[:2])) == pages[:2]  # two pages are too few to call anything running


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not beside the project")
@pytest.mark.parametrize("book", sorted(p.name for p in CORPUS.glob("*.txt")) if CORPUS.is_dir() else [])
def test_corpus_books_lose_their_licence_and_keep_their_story(book):
    from famcli.documents.registry import open_document

    raw = "".join(open_document(str(CORPUS / book)).pieces)
    out = "".join(clean_text(open_document(str(CORPUS / book)).pieces))
    assert "PROJECT GUTENBERG LICENSE" in raw.upper() and "PROJECT GUTENBERG LICENSE" not in out.upper()
    assert "*** START OF" not in out and "*** END OF" not in out and "Produced by" not in out[:2000]
    assert 0.8 * len(raw) < len(out) < len(raw)  # the licence is ~12% of the shortest book


def test_summarize_reads_less_without_the_boilerplate(capsys, tiny, tmp_path):
    from famcli.__main__ import main

    path = tmp_path / "doors.txt"
    path.write_text(gutenberg_book() + LICENCE * 20)
    runs = []
    for extra in ([], ["--keep-all"]):
        assert main(["summarize", str(path), "--model", tiny, "--json", "-q", "--max-tokens", "4", *extra]) == 0
        runs.append(json.loads(capsys.readouterr().out)["tokens_read"])
    assert runs[0] < 0.8 * runs[1]


def test_what_follows_a_closing_line_or_another_work_s_start_is_kept():
    from famcli.documents.boilerplate import clean_text

    from famcli.documents.boilerplate import HEAD_CHARS

    long = "\n\n".join(["It was a long story, and it went on for a while."] * (HEAD_CHARS // 40))
    text = ("*** START OF THE PROJECT GUTENBERG EBOOK ONE ***\n\nFirst work.\n\n" + long + "\n\n"
            "End of Project Gutenberg's One, by Someone\n\nA fact after the closing line.\n\n"
            "*** END OF THE PROJECT GUTENBERG EBOOK ONE ***\n\nThe licence.\n\n"
            "*** START OF THE PROJECT GUTENBERG EBOOK TWO ***\n\nSecond work.\n\n"
            "*** END OF THE PROJECT GUTENBERG EBOOK TWO ***\n\nThe licence again.\n")
    kept = " ".join("".join(clean_text([text])).replace(long, "LONG").split())
    assert kept == "First work. LONG A fact after the closing line. Second work."
