"""What is not the work: Project Gutenberg headers and licences, tables of contents, PDF running headers,
footers and page numbers, detected from the text itself (never a list per book). `famcli summarize` reads
documents through `clean` unless `--keep-all`.

    Gutenberg  everything up to the "*** START OF ... PROJECT GUTENBERG EBOOK ... ***" line and from the
               "*** END OF ..." line on (the licence) is dropped, and so are the paragraphs near the start
               that speak of the edition (a transcriber's note on the etexts it was made from)
    contents   near the start, a run of 3+ heading lines (CHAPTER I, Letter 2, VOLUME III, XIV. ...) with at
               most one short line between them, whose headings come back later in the text, is dropped
    PDF pages  a first or last line of a page that recurs (digits aside) on 3+ pages and 40% of the pages
               sampled, and a page number alone on a line at the top or bottom of a page, are dropped
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

START = re.compile(r"^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
END = re.compile(r"^\s*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
HEADING = re.compile(r"^\s*((chapter|letter|book|part|volume|act|stave|section)\s+([0-9]+|[ivxlcdm]+)\b"
                     r"|([ivxlcdm]+|[0-9]+)\.\s+\S)", re.IGNORECASE)
# HEADING tells a contents line or a heading line by its start; CHAPTER_LINE finds the chapter headings in running
# text (a line between blank lines), where a note's place comes from (notes.text_place).
CHAPTER_LINE = re.compile(r"(?:\A|\n[ \t]*\n)[ \t]*("
                          r"(?i:chapter|letter|book|part|adventure|volume|stave|canto)[ \t]+(?:[IVXLCDM]+|\d+)\b"
                          r"[^\n]{0,70}(?:\n[^\n]{1,70})?|[IVXLCDM]+\.[ \t]+[A-Z][A-Z'’ ,.\-]{3,70})"
                          r"[ \t]*(?=\n[ \t]*\n|\n?\Z)")
CREDIT = re.compile(r"^\s*(produced by|this e-?book was produced|e-?text prepared by|transcribed from)\b",
                    re.IGNORECASE)
CLOSING = re.compile(r"^\s*end of (the |this )?project gutenberg", re.IGNORECASE)
EDITION = re.compile(r"\b(project gutenberg|e-?texts?|e-?books?|transcriber['’]?s?|proofread\w*|digiti[sz]ed|"
                     r"edition\s+\d+(\.\d+)*)\b",
                     re.IGNORECASE)
NOTE_HEADING = re.compile(r"^\s*((original )?transcriber['’]?s?|editor['’]?s?|production)\s+notes?\s*:?\s*$",
                          re.IGNORECASE)
CONTENTS = re.compile(r"^\s*(table of )?contents\.?\s*$", re.IGNORECASE)
PAGE_NUMBER = re.compile(r"^\W*(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?\W*$", re.IGNORECASE)
HEAD_CHARS = 60_000  # the start of a text searched for the Gutenberg header and a table of contents
SAMPLE_PAGES = 12  # PDF pages looked at to learn the running headers and footers


def clean(pieces: Iterable[str], kind: str = "text") -> Iterator[str]:
    """The pieces of a document without its boilerplate (PDF pages when kind is pdf, text otherwise)."""
    return clean_pages(pieces) if kind == "pdf" else clean_text(pieces)


def clean_text(pieces: Iterable[str]) -> Iterator[str]:
    """Text without the Gutenberg header and licence and without a table of contents at its start."""
    lines = _lines(pieces)
    head: list[str] = []
    for line in lines:
        head.append(line)
        if sum(map(len, head)) > HEAD_CHARS:
            break
    start = next((i + 1 for i, line in enumerate(head) if START.match(line)), 0)
    head = _without_edition_notes(_without_credit(head[start:])) if start else head
    head = _without_contents(head, "".join(head).lower())
    for line in _until_end(_chain(head, lines)):
        yield line


def _lines(pieces: Iterable[str]) -> Iterator[str]:
    carry = ""
    for piece in pieces:
        carry += piece
        *done, carry = carry.split("\n")
        for line in done:
            yield line + "\n"
    if carry:
        yield carry


def _chain(first: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def _until_end(lines: Iterable[str]) -> Iterator[str]:
    """The lines without the closing line ("End of Project Gutenberg's ...") and without the licence from an
    END line on, up to the next START line if another work follows (an anthology, a file of several books):
    what comes after a closing line is not lost."""
    licence = False
    for line in lines:
        if licence:
            licence = not START.match(line)
        elif END.match(line):
            licence = True
        elif not CLOSING.match(line):
            yield line


def _without_credit(head: list[str]) -> list[str]:
    """Without the volunteers' credit paragraph that follows the Gutenberg header."""
    first = next((i for i, line in enumerate(head) if line.strip()), None)
    if first is None or not CREDIT.match(head[first]):
        return head
    end = next((i for i in range(first, len(head)) if not head[i].strip()), len(head))
    return head[:first] + head[end:]


def _without_edition_notes(head: list[str]) -> list[str]:
    """Without the paragraphs about the edition in a Gutenberg book's opening (a transcriber's note on the
    etexts it was made from, say) and the heading of such a note."""
    paragraphs, current = [], []
    for line in head:
        if line.strip():
            current.append(line)
        else:
            paragraphs.append(current + [line])
            current = []
    paragraphs.append(current)
    kept: list[list[str]] = []
    for para in paragraphs:
        text = "".join(para)
        if NOTE_HEADING.match(text.strip()) or EDITION.search(text):
            kept.append([line for line in para if not line.strip()])
        else:
            kept.append(para)
    return [line for para in kept for line in para]


def _without_contents(head: list[str], text: str) -> list[str]:
    """`head` without its first table of contents: 3+ heading lines close together whose headings recur."""
    i = 0
    while i < len(head):
        if not HEADING.match(head[i]):
            i += 1
            continue
        run, j, gap = [i], i + 1, 0
        while j < len(head) and gap <= 2:
            if HEADING.match(head[j]):
                run.append(j)
                gap = 0
            elif head[j].strip() and len(head[j].strip()) > 60:
                break
            else:
                gap += 1
            j += 1
        later = text.split(head[run[-1]].lower(), 1)[-1] if len(run) >= 3 else ""
        if len(run) >= 3 and sum(_key(head[k]) in later for k in run[:3]) >= 2:
            title = next((k for k in range(run[0] - 1, max(-1, run[0] - 6), -1) if head[k].strip()), None)
            begin = title if title is not None and CONTENTS.match(head[title]) else run[0]
            return head[:begin] + head[run[-1] + 1:]
        i = run[-1] + 1
    return head


def _key(line: str) -> str:
    """A heading as it would appear again in the text (its first words, lower case)."""
    return " ".join(line.lower().split()[:2])


def clean_pages(pages: Iterable[str]) -> Iterator[str]:
    """PDF pages without running headers, footers and page numbers (learned from the first pages)."""
    pages = iter(pages)
    sample = [page for _, page in zip(range(SAMPLE_PAGES), pages)]
    running = _running_lines(sample)
    for page in _chain(sample, pages):
        yield _strip_page(page, running)


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def _edges(page: str) -> list[str]:
    """Where running heads sit: the first and last two lines of a page (one each on a short page), page
    numbers aside."""
    lines = [line for line in page.splitlines() if line.strip() and not PAGE_NUMBER.match(line.strip())]
    k = 2 if len(lines) > 6 else 1
    return lines[:k] + lines[-k:]


def _running_lines(sample: list[str]) -> set[str]:
    counts = Counter(shape for page in sample for shape in {_shape(line) for line in _edges(page)})
    least = max(3, int(0.4 * len(sample) + 0.999))
    return {shape for shape, n in counts.items() if n >= least and shape}


def _strip_page(page: str, running: set[str]) -> str:
    """The page without running lines and page numbers peeled off its top and bottom (3 lines at most each)."""
    lines = page.splitlines(keepends=True)

    def boilerplate(line: str) -> bool:
        return bool(line.strip()) and (_shape(line) in running or PAGE_NUMBER.match(line.strip()) is not None)

    def peel(order: list[int]) -> set[int]:
        gone, seen = set(), 0
        for i in order:
            if not lines[i].strip():
                continue
            if seen == 3 or not boilerplate(lines[i]):
                break
            gone.add(i)
            seen += 1
        return gone

    gone = peel(list(range(len(lines)))) | peel(list(range(len(lines) - 1, -1, -1)))
    return "".join(line for i, line in enumerate(lines) if i not in gone)


def headings(text: str) -> list[str]:
    """The chapter headings of plain text: a line of its own between blank lines, `CHAPTER I. Down the
    Rabbit-Hole`, `Letter 4`, `ADVENTURE II. THE RED-HEADED LEAGUE` (a Roman numeral or a number after the word),
    or a Roman numeral before a title in capitals, `VII. THE ADVENTURE OF THE BLUE CARBUNCLE`; a title may take
    two lines."""
    return [" ".join(m.group(1).split()) for m in CHAPTER_LINE.finditer(text)]


def heading(text: str) -> bool:
    """A chapter's heading line (CHAPTER IV, Letter 2, XIV. THE END): short, in a heading's form ("M. Krempe
    said ..." is no heading)."""
    return len(text.split()) <= 12 and HEADING.match(text) is not None


def unwrapped(text: str) -> str:
    """A passage with the line breaks of its hard-wrapped paragraphs as spaces (a Gutenberg text wraps at ~70
    characters: a sentence would be cut at its breaks). A paragraph is wrapped when it has 2+ lines, none over
    100 characters, every line but its last at least 60% of its longest (a poem's are not), and fewer than half
    of them beginning with a digit (a log's lines, a table's rows)."""
    out = []
    for i, paragraph in enumerate(re.split(r"(\n[ \t]*\n\s*)", text)):
        lines = paragraph.split("\n")
        if i % 2:  # the blank lines between paragraphs stay
            out.append(paragraph)
            continue
        if len(lines) >= 2 and heading(lines[0]):  # a heading on the line above its chapter's text stands apart
            out.append(lines[0] + "\n\n" + unwrapped("\n".join(lines[1:])))
            continue
        widths = [len(line.rstrip()) for line in lines]
        numbered = sum(line.lstrip()[:1].isdigit() for line in lines)  # a log's timestamps, a table's rows
        if len(lines) >= 2 and max(widths) <= 100 and min(widths[:-1]) >= 0.6 * max(widths) \
                and numbered < len(lines) / 2:
            paragraph = " ".join(line.strip() for line in lines)
        out.append(paragraph)
    return "".join(out)
