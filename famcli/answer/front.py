"""Who wrote the document, as the file or its front matter says (docs/answers.md, "Who wrote it").

"Who wrote this book?" asks about the document, not about anything it tells, and its answer is written where
the body of the work is not: the file's metadata (an EPUB's dc:creator, a DOCX's or a PDF's author:
famcli.documents.base.Document.front), a Gutenberg header's "Author:" line, a title page's "By Herman Melville".
The passages leave that front matter out (famcli.answer.find.the_work), and the names gathered from the story
answered "Mr. Wickham" for *Pride and Prejudice*. So a question that asks for a name (who, "the name of"), says
something was written and nothing else but words for a document or its title is answered from the metadata, else
from the first FRONT_CHARS characters of the text: the author line, quoted; "Not found" when neither names one (a
text without its title page: a character's name would be wrong).
"""

from __future__ import annotations

import re

from famcli.answer.read import asks_for_a_name
from famcli.text import stemmer
from famcli.text.words import words

FRONT_CHARS = 6000  # the front matter: a Gutenberg header (about 1,000 characters) and a title page after it
_AUTHOR = re.compile(r"^[ \t]*(?:author|authors|written by)[ \t]*:[ \t]*(?P<who>\S[^\n]{0,200}?)[ \t]*$", re.I | re.M)
# A title page's "By Herman Melville": a line of its own between blank lines, "By" and capitalised words (with the
# particles of names), no full stop but an initial's: not "by Mr. Brand on the road", "BY NIGHT", "By Order of the
# Court" or the last line of a wrapped paragraph.
_NAME_WORD = r"(?:[A-Z][\w'’-]*\.?|de|da|di|du|van|von|der|den|la|le|del|y)"
_BY = re.compile(rf"(?:\A|\n[ \t]*\n)[ \t]*By[ \t]+(?P<who>[A-Z][\w'’-]*\.?(?:[ \t]+{_NAME_WORD}){{0,5}})[ \t]*"
                 rf"(?=\n[ \t]*\n|\n?\Z)")
_TITLE = re.compile(r"^[ \t]*title[ \t]*:[ \t]*(?P<title>\S[^\n]{0,200}?)[ \t]*$", re.I | re.M)
AUTHORING = re.compile(r"\b(?:wrote|writes?|written|writer|authors?|authored|authorship)\b", re.I)
# Every word a question about the document's author may write; any other ("for", "to", "in", "letter") asks about
# what the document tells: "Who was this book written for?", "Who wrote in the book?".
ABOUT_THE_AUTHOR = frozenset(stemmer().stemWords(
    "who whom whose what is was are were s the this that it its a an of by did does do has have had name wrote write "
    "writes written writer author authors authored authorship book novel story text document work report paper "
    "article tale volume essay poem piece file".split()))
# What a file's author field holds when nobody filled it: the writing program's or the account's name.
PLACEHOLDERS = frozenset({"python-docx", "microsoft office user", "administrator", "admin", "user", "unknown",
                          "author", "owner", "anonymous user", "calibre", "ebooklib"})


def front_matter(front: str, text: str) -> tuple[str, str, bool] | None:
    """(author, the line that says it, whether it is the file's metadata) from the file's metadata (`front`,
    Document.front) as it stands, else the text's first "Author:" line or title-page "By" line that names someone
    (in its first FRONT_CHARS characters); None when neither does. A placeholder ("python-docx", "Administrator")
    names nobody."""
    for source, is_meta in ((front, True), (text[:FRONT_CHARS], False)):
        lines = list(_AUTHOR.finditer(source)) + ([] if is_meta else list(_BY.finditer(source)))
        for found in lines:
            who = " ".join(found["who"].split()).rstrip(",;")
            if who and who.lower() not in PLACEHOLDERS and (is_meta or not who[:1].islower()):
                return who, " ".join(found.group(0).split()), is_meta
    return None


def asks_for_the_author(question: str, front: str, text: str) -> bool:
    """Whether the question asks who wrote the document itself: it asks for a name, says something was written,
    and every other word it writes is a word for a document, its title (the metadata's or the text's "Title:"
    line) or one of the few a question about an author needs (ABOUT_THE_AUTHOR). "Who wrote the letter?" and
    "Who was this book written for?" ask about what it tells."""
    if not (asks_for_a_name(question) and AUTHORING.search(question)):
        return False
    titles = " ".join(m["title"] for m in _TITLE.finditer(f"{front}\n{text[:FRONT_CHARS]}"))
    allowed = ABOUT_THE_AUTHOR | set(stemmer().stemWords(words(titles)))
    return all(w in allowed for w in stemmer().stemWords(words(question)))
