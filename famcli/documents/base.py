"""What every document reader gives and raises: the formats (famcli.documents.formats) and the opening of files and
streams (famcli.documents.registry) share it, so neither imports the other for it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from famcli.common.errors import UserError

# Characters that show nothing and join nothing: the soft hyphen (HTML's &shy;, in many EPUBs and web pages),
# the zero-width space, the word joiner, a BOM inside the text (files joined together), the Mongolian vowel
# separator. Left in, "Al\u00adice" is no "Alice" to a search or a name check, and a stray token to the model.
# The zero-width joiner and non-joiner stay: they shape emoji and several scripts (Persian, the Indic ones).
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff\u180e"))


def visible(pieces: Iterator[str]) -> Iterator[str]:
    """A document's text pieces without the characters in INVISIBLE."""
    for piece in pieces:
        yield piece.translate(INVISIBLE)


class DocumentError(UserError):
    """A document that cannot be read as text."""


@dataclass
class Document:
    """A source of text pieces plus what its reader noticed (e.g. pages without text)."""

    name: str
    size_bytes: int | None
    pieces: Iterator[str]
    notes: list[str] = field(default_factory=list)
    kind: str = "text"  # text | html | pdf | epub | docx, with "+gzip" etc. for compressed text
    place: tuple[str, int | str] | None = None  # where the last piece came from: ("page", 3), ("chapter", "I.")
    stream: bool = False  # stdin, a named pipe or /dev/fd/N: read once, as it arrives
    front: str = ""  # what the file says of itself beside its text ("Title: ...\nAuthor: ..."): its metadata

    def describe(self, title: str | None, author: str | None) -> None:
        """Keep the title and author the file's metadata gives (famcli.answer.front answers "Who wrote it?" by them),
        each cut to one line of at most 200 characters; nothing when it gives none."""
        lines = [f"{key}: {' '.join(value.split())[:200]}" for key, value in (("Title", title), ("Author", author))
                 if isinstance(value, str) and value.strip()]
        self.front = "\n".join(lines)

    @property
    def countable(self) -> bool:
        """Whether counting its tokens before reading is cheap (not a PDF's text extraction, not a pipe)."""
        return self.kind != "pdf" and not self.stream
