"""`--until`: a spoiler-safe reading. Nothing of the document after the point a reader has reached is read, so
what famcli tells of it ("what has happened so far?") gives nothing away.

The point is a share of the document (`40%`), a page (`page 12`, of a PDF) or a chapter (`chapter 5`,
`chapter V`, `chapter The Pool of Tears`): a chapter is read to its end, and reading stops where the next one
begins. Chapters are the document's own: an EPUB's (by its table of contents or headings), a DOCX's headings, or a
plain text's chapter headings (`CHAPTER V.`, `Letter 4`, `VII. THE ADVENTURE OF ...`:
famcli.documents.boilerplate.CHAPTER_LINE). A chapter the document does not have is an error once the document
has been gone through, before anything is answered from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from famcli.documents.base import Document, DocumentError
from famcli.documents.boilerplate import CHAPTER_LINE

_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_CONTAINER = re.compile(r"(?:letter|book|part|volume)\b", re.I)  # numbered, but not chapters
_NUMBERED = re.compile(r"^(?:(?:chapter|letter|book|part|adventure|volume|stave|canto)\s+)?([IVXLCDM]+|\d+)\b",
                       re.I)


def roman(text: str) -> int | None:
    """The value of a Roman numeral (I to MMMCMXCIX), None when it is not one."""
    text = text.upper()
    if not text or not re.fullmatch(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})", text):
        return None
    values = [_ROMAN[c] for c in text]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def chapter_number(heading: str) -> int | None:
    """The number a heading gives its chapter ("CHAPTER V. The Pool of Tears" -> 5, "Chapter 12" -> 12)."""
    m = _NUMBERED.match(heading.strip())
    if not m:
        return None
    return int(m.group(1)) if m.group(1).isdigit() else roman(m.group(1))


@dataclass(frozen=True)
class Until:
    """Where a reading stops: `kind` share (`value` a fraction), page (its number) or chapter (a number, or words of
    its title); `text` as the reader wrote it."""

    kind: str
    value: float | int | str
    text: str

    @classmethod
    def parse(cls, text: str) -> Until:
        t = " ".join(text.split())
        if m := re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", t):
            share = float(m.group(1)) / 100
            if not 0 < share <= 1:
                raise ValueError(f"--until {text}: a share is more than 0% and at most 100%")
            return cls("share", share, t)
        if m := re.fullmatch(r"(?:page|p\.?)\s*(\d+)", t, re.I):
            if int(m.group(1)) < 1:
                raise ValueError(f"--until {text}: pages count from 1")
            return cls("page", int(m.group(1)), t)
        if m := re.fullmatch(r"(?:chapter|ch\.?)(?=[\s\d])\s*(.+)", t, re.I):
            name = m.group(1).strip(" .")
            number = int(name) if name.isdigit() else roman(name)
            if number is not None and number > 500:  # "chapter Mix": words of a title, not MIX
                number = None
            if not name or number == 0:
                raise ValueError(f"--until {text}: name a chapter by its number (from 1) or words of its title")
            return cls("chapter", number if number else name.casefold(), t)
        raise ValueError(f"--until {text}: give a share (40%), a page (page 12) or a chapter (chapter 5, chapter V, "
                         "or words of its title)")

    def is_it(self, heading: str) -> bool:
        """Whether a chapter heading names the chapter asked for (by number: a chapter's, not a letter's, a book's,
        a part's or a volume's: "Letter 3" is not chapter 3)."""
        if isinstance(self.value, int):
            return chapter_number(heading) == self.value and not _CONTAINER.match(heading.strip())
        return str(self.value) in " ".join(heading.split()).casefold()

    def cut(self, doc: Document, total_chars: Callable[[], int] | None = None) -> Iterator[str]:
        """The document's pieces up to the point (`total_chars`: the document's length in characters, for a
        share; it may read the document once more)."""
        if self.kind == "share":
            if doc.stream:
                raise DocumentError(f"--until {self.text}: a share needs the document's length, and a stream has "
                                    "none (give a chapter)")
            return _first_chars(doc.pieces, int(self.value * total_chars()))
        if self.kind == "page":
            if doc.kind != "pdf":
                raise DocumentError(f"--until {self.text}: {doc.name} has no pages ({doc.kind}); give a share or a "
                                    "chapter")
            return _through_page(doc, doc.pieces, int(self.value))
        return _through_chapter(doc, doc.pieces, self)


def _first_chars(pieces: Iterator[str], n: int) -> Iterator[str]:
    """The first n characters, and the rest of the sentence or line they end in (at most 2,000 more)."""
    for piece in pieces:
        if len(piece) < n:
            n -= len(piece)
            yield piece
            continue
        end = re.search(r"[.!?][\"'”’)]*\s|\n", piece[n:n + 2000])
        yield piece[:n + (end.end() if end else 0)]
        return


def _through_page(doc: Document, pieces: Iterator[str], last: int) -> Iterator[str]:
    """The pieces (`doc.pieces` before the cut: the cut takes their place) up to the page's end."""
    for piece in pieces:
        if doc.place is not None and doc.place[0] == "page" and doc.place[1] > last:
            return
        yield piece


def _through_chapter(doc: Document, pieces: Iterator[str], until: Until) -> Iterator[str]:
    """Pieces through the chapter asked for: stop where the next heading after its own begins. A piece's place
    (an EPUB chapter, a DOCX section) is a heading where it changes, and then only places end chapters; in a
    plain text, chapter heading lines are. A heading with no text before the next one is a line of a table of
    contents: it neither finds the chapter nor ends it."""
    found, seen, place, carry = False, [], None, ""
    by_place, found_by_bare = False, False  # chapters named by the reader; found by a heading not yet followed
    worded = True  # whether text has come since the last heading line
    for piece in pieces:
        if doc.place is not None and doc.place != place:
            place = doc.place
            if place[0] in ("chapter", "section"):
                by_place = True
                if found and not until.is_it(str(place[1])):
                    return
                seen.append(str(place[1]))
                found = found or until.is_it(str(place[1]))
        text, carry = carry + piece, ""
        cut = text.rfind("\n\n")  # a heading stands between blank lines: hold the last paragraph back
        if cut > 0:
            text, carry = text[:cut], text[cut:]
        if by_place:
            yield text
            continue
        at = 0
        for m in CHAPTER_LINE.finditer(text):
            worded = worded or bool(text[at:m.start()].strip())
            if not worded and found_by_bare:  # the heading that found it was a contents line
                found = False
            heading = " ".join(m.group(1).split())
            if found and worded and not until.is_it(heading) and heading not in seen[-1:]:
                yield text[:m.start()]
                return
            seen.append(heading)
            if until.is_it(heading) and not found:
                found, found_by_bare = True, True
            worded, at = False, m.end()
        worded = worded or bool(text[at:].strip())
        if worded:
            found_by_bare = False
        yield text
    if carry:
        yield carry
    if not found:
        some = f" (its first is {seen[0]!r}, its last {seen[-1]!r})" if seen else " (it has no chapter headings)"
        raise DocumentError(f"--until {until.text}: {doc.name} has no such chapter{some}")
