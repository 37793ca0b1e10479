"""Who wrote the document, as its own front matter says (docs/answers.md, "Who wrote it").

"Who wrote this book?" asks about the document, not about anything it tells, and its answer is written where
the body of the work is not: a Gutenberg header's "Author:" line, a title page's "By Herman Melville". The
passages leave that front matter out (famcli.answer.find.the_work), and the names gathered from the story
answered "Mr. Wickham" for *Pride and Prejudice*. So a question that asks for a name (who, "the name of") and
says nothing but that something was written, by whom, of the document ("this book", "it", its title) is answered
from the first FRONT_CHARS characters of the document: the author line it writes, quoted; "Not found" when it
writes none (a text without its title page: a character's name would be wrong).
"""

from __future__ import annotations

import re

from famcli.answer.read import asks_for_a_name
from famcli.text import stemmer, stop_words
from famcli.text.words import words

FRONT_CHARS = 6000  # the front matter: a Gutenberg header (about 1,000 characters) and a title page after it
_AUTHOR = re.compile(r"^[ \t]*(?:author|authors|written by)[ \t]*:[ \t]*(?P<who>[^\W\d_][^\n]{1,80}?)[ \t]*$",
                     re.I | re.M)
_BY = re.compile(r"^[ \t]*by[ \t]+(?P<who>[A-Z][\w.'’()-]*(?:[ \t]+[\w.'’()-]+){0,5})[ \t]*$", re.I | re.M)
_TITLE = re.compile(r"^[ \t]*title[ \t]*:[ \t]*(?P<title>\S[^\n]{0,150}?)[ \t]*$", re.I | re.M)
AUTHORING = re.compile(r"\b(?:wrote|writes?|written|writing|writer|authors?|authored|authorship)\b", re.I)
ASKING = frozenset("who whom whose what which whoever did does do has have had is was were s".split())
ABOUT_A_DOCUMENT = ("who wrote write writes written writing writer author authors authored authorship name book "
                    "novel story text document work report paper article tale volume essay poem piece")


def front_matter(text: str) -> tuple[str, str] | None:
    """(author, the line that says it) from the document's front matter: an "Author:" line, else a line that is
    only "By" and a name; None when it has neither."""
    front = text[:FRONT_CHARS]
    found = _AUTHOR.search(front) or _BY.search(front)
    if found is None or not found["who"][:1].isupper():
        return None
    return " ".join(found["who"].split()), " ".join(found.group(0).split())


def asks_for_the_author(question: str, text: str) -> bool:
    """Whether the question asks who wrote the document itself: it asks for a name, says something was written,
    and every other word it writes is a word for a document or the document's title (its "Title:" line). "Who
    wrote the letter?" asks about the story: "letter" is neither."""
    if not (asks_for_a_name(question) and AUTHORING.search(question)):
        return False
    title = _TITLE.search(text[:FRONT_CHARS])
    rest = _stems(question) - _stems(ABOUT_A_DOCUMENT) - (_stems(title["title"]) if title else set())
    return not rest


def _stems(text: str) -> set[str]:
    """The stems of a text's words but the 33 stop words of bm25s and the question's own (not the answer path's
    longer list, which holds "letter" for the headings of letters)."""
    stop = stop_words() | ASKING
    return set(stemmer().stemWords([w for w in words(text) if w not in stop]))
