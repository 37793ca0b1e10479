"""A summary's outline: each chapter's title and one line of its own, in order (`summarize --outline`; `--json`
always has `outline`, empty for a document without chapters).

Chapters are the document's: an EPUB's (each piece its reader yields is one, named by the table of contents or
its heading), a DOCX's heading-led sections, a plain text's chapter headings (`CHAPTER V.`, `Letter 4`,
`VII. THE ADVENTURE OF ...`: famcli.documents.boilerplate.CHAPTER_LINE). A PDF's pages are not chapters. A chapter's
line is its own most telling sentence (famcli.summary.notes.own_sentence) among its first LINE_CHARS characters, so
the outline says nothing the book does not: the line names what the chapter brings in more than what every chapter
names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from famcli.documents.boilerplate import CHAPTER_LINE, clean_text
from famcli.summary.notes import Section, note_weights, own_sentence, section_names
from famcli.summary.telling import Rarity

LINE_CHARS = 60_000  # the characters of a chapter its line is chosen from: the choice grows faster than the text


class Outline:
    """Chapters as their text arrives: `tap` the pieces of a document whose reader names its chapters (the
    reader's `doc.place`), or `add_text` a plain text's sections in order (its heading lines begin chapters)."""

    def __init__(self, rarity: Rarity | None = None):
        self.rarity = rarity  # how particular each word is to a part of the document (telling.Rarity)
        self.clean = False  # whether a chapter's own boilerplate (a licence chapter) is left out
        self.chapters: list[dict] = []
        self.title: str | None = None
        self.text: list[str] = []
        self.seen: Counter = Counter()

    def tap(self, pieces: Iterable[str], doc, clean: bool = True) -> Iterator[str]:
        """The reader's pieces as they are, each added to the chapter the reader names (`clean`: a chapter's text
        without boilerplate, famcli.documents.boilerplate: a Project Gutenberg licence is no chapter)."""
        self.clean = clean
        for piece in pieces:
            place = doc.place
            if place is not None and place[0] in ("chapter", "section") and str(place[1]) != self.title:
                self._begin(str(place[1]))
            self._keep(piece)
            yield piece

    def add_text(self, text: str) -> None:
        """A plain text's next section: each chapter heading line in it begins a chapter."""
        at = 0
        for m in CHAPTER_LINE.finditer(text):
            self._keep(text[at:m.start()])
            self._begin(" ".join(m.group(1).split()))
            at = m.end()
        self._keep(text[at:])

    def _keep(self, text: str) -> None:
        """A chapter's text, up to LINE_CHARS of it (before the first heading: nothing, it is no chapter's)."""
        if self.title is not None and sum(map(len, self.text)) < LINE_CHARS:
            self.text.append(text)

    def finish(self) -> list[dict]:
        """The outline: [{"chapter": title, "line": its sentence}], in order (the last chapter closed)."""
        self._begin(None)
        return self.chapters

    def _begin(self, title: str | None) -> None:
        text = "".join(self.text)[:LINE_CHARS]
        text = ("".join(clean_text([text])) if self.clean and text else text).strip()
        if self.title is not None and text:
            counts, hint, who = section_names(text)
            section = Section((0, 0), self.title, counts, hint, text=text, people=who,
                              weights=note_weights(counts, self.seen), rarity=self.rarity)
            self.seen.update(counts)
            self.chapters.append({"chapter": self.title, "line": own_sentence(section)})
        self.title, self.text = title, []
