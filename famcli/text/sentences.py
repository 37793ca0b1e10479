"""A text cut into sentences, with where each starts: what answers, notes and extracts are made of."""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'”’)\]])\s+|(?<=[。！？][」』）])\s*|(?<=[。！？])(?![」』）])\s*|\n\s*\n|\n(?=[\d\[{<|#*•-])")
_HEADING = re.compile(r"#{1,6}[ \t][^\n]*\n")  # a Markdown heading: a line of its own, never its paragraph's start
_LONG = 300  # characters: a longer "sentence" (a table, verse, a log) is cut at its line breaks
_ABBREVIATION = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Mt|Jr|Sr|Prof|Capt|Col|Gen|Rev|Lt|Sgt|No|vs|etc|e\.g|i\.e)"
                           r"|\b[A-Z])\.$")


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(character offset, sentence) for each sentence of a text; lines of a long one are sentences of their own
    (logs, tables, verse). A title or an initial ("Mrs.", "J.") does not end a sentence; a full-width stop
    ("。", "！", "？": Chinese and Japanese) ends one with or without a space after it. A Markdown heading
    ("## Risks") is a sentence of its own, not the start of the paragraph written under it."""
    out, start = [], 0
    for m in [*_BOUNDARY.finditer(text), None]:
        if m is not None and _ABBREVIATION.search(text[start:m.start()]) and "\n\n" not in m.group(0):
            continue
        end = m.start() if m else len(text)
        piece = text[start:end]
        if piece.strip():
            if len(piece) > _LONG and "\n" in piece:
                offset = start
                for line in piece.split("\n"):
                    if line.strip():
                        out.append((offset, " ".join(line.split())))
                    offset += len(line) + 1
            else:
                at = start + len(piece) - len(piece.lstrip())
                heading = _HEADING.match(text, at, end)
                if heading and text[heading.end():end].strip():  # "## Risks" over its paragraph's first line
                    out.append((at, " ".join(heading.group().split())))
                    rest = text[heading.end():end]
                    at, piece = heading.end() + len(rest) - len(rest.lstrip()), rest
                out.append((at, " ".join(piece.split())))
        if m:
            start = m.end()
    return out
