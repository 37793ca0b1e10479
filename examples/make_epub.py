"""Turn a Project Gutenberg plain-text book into an EPUB (one chapter per `CHAPTER`/`Chapter`/`LETTER` heading,
a table of contents, the Gutenberg header and licence left out), to try famcli's EPUB reader on real books:

    .venv/bin/python examples/make_epub.py ../shared/corpus/alice.txt alice.epub
    .venv/bin/famcli ask alice.epub "What was written on the bottle?" --sources
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

HEADING = re.compile(r"^(CHAPTER|Chapter|LETTER|Letter|STAVE|BOOK)\b.*$", re.M)


def chapters(text: str) -> list[tuple[str, str]]:
    text = text.replace("\r\n", "\n")
    start = re.search(r"\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*\n", text)
    end = re.search(r"\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG", text)
    body = text[start.end() if start else 0: end.start() if end else len(text)]
    marks = list(HEADING.finditer(body))
    marks = [m for i, m in enumerate(marks) if i == len(marks) - 1 or  # drop a table of contents: headings
             body.count("\n", m.end(), marks[i + 1].start()) > 3]     # followed by text, not by the next one
    if not marks:
        return [("Text", body.strip())]
    return [(m.group(0).strip(), body[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(body)].strip())
            for i, m in enumerate(marks)]


def main(source: str, out: str) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(Path(source).stem)
    book.set_title(Path(source).stem.title())
    book.set_language("en")
    text = Path(source).read_text(encoding="utf-8-sig")
    for field, add in (("Title", book.set_title), ("Author", book.add_author)):  # a Gutenberg header's, as an EPUB has
        found = re.search(rf"^{field}:[ \t]*(\S[^\n]*?)[ \t]*$", text[:6000], re.M)
        if found:
            add(found.group(1))
    items = []
    for i, (title, text) in enumerate(chapters(text), start=1):
        item = epub.EpubHtml(title=title, file_name=f"chapter_{i:03}.xhtml", lang="en")
        paragraphs = "".join(f"<p>{html.escape(' '.join(p.split()))}</p>" for p in text.split("\n\n") if p.strip())
        item.content = f"<html><body><h2>{html.escape(title)}</h2>{paragraphs}</body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(out, book)
    print(f"wrote {out}: {len(items)} chapters")


if __name__ == "__main__":
    main(*sys.argv[1:3])
