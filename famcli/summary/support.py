"""Whether a sentence written about a text says what the text says (docs/summaries.md, "Support").

Two checks, both lexical, both against the text the sentence was written from:

    names    every name the sentence uses (a capitalised run, famcli.text.names) occurs in the text as a
             whole, titles written either way ("Mr. Darcy" / "Mr Darcy"): "Jane Darcy" in a note on a section
             that has Jane and Darcy but no Jane Darcy is invented, though each word is the text's
    words    the sentence's content words (stemmed; stop words, its names and the words a summary uses of any
             text, "passage", "describes", "scene", left out) are looked up in the text's sentences that use the
             sentence's names (and the sentence on each side): the share found is its support. "Holmes and his
             wife, Irene Adler" finds no "wife" near Holmes or Irene Adler.

A sentence that uses no name is looked up in the whole text. No model: a few milliseconds a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from famcli.text import stemmer, stop_words_plus
from famcli.text.names import ABBREVIATIONS, TITLES, names, uses_name
from famcli.text.sentences import split_sentences

# What a summary says of any text: no claim about this one.
SUMMARY_WORDS = frozenset("""passage passages text texts section sections excerpt story stories scene scenes narrative
narrator character characters describe describes described description depict depicts depicted explore explores
explored focus focuses focused highlight highlights reveal reveals revealed present presents introduce introduces
introduced convey conveys portray portrays portrayed main continuation continue continues set sets stage moment
pivotal tale chapter chapters author reader reflection style tone theme themes mix example context plot event
events element key involve involves involving particular particularly specifically overall also including
discuss discusses discussed mention mentions mentioned show shows shown feature features featured concern concerns
concerned detail details detailed account accounts sense way ways nature part parts point begin begins ends end
highlighting touches touch sequence series""".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_TITLE_DOT = re.compile(r"\b(" + "|".join(sorted(ABBREVIATIONS & TITLES)) + r")\.")


@dataclass
class Support:
    """How far a sentence is the text's: its names absent from the text, its content words, those found."""

    invented: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        """The share of the content words found near the sentence's names (1.0 for a sentence with none)."""
        return len(self.found) / len(self.words) if self.words else 1.0

    def holds(self, least: float) -> bool:
        """No invented name and at least `least` of the content words found."""
        return not self.invented and self.share >= least


def plain_titles(text: str) -> str:
    """"Mr. Darcy" as "Mr Darcy": a title written with or without its full stop is the same name."""
    return _TITLE_DOT.sub(r"\1", text)


class Source:
    """A text prepared once for the sentences checked against it: its sentences, their stems, its names."""

    def __init__(self, text: str):
        self.text = plain_titles(text)
        self.flat = " ".join(self.text.split())  # a name may run across a line break
        self.sentences = [s for _, s in split_sentences(self.text)]
        self.stems = [_stems(_WORD.findall(s)) for s in self.sentences]
        self.all_stems = set().union(*self.stems) if self.stems else set()

    def has_name(self, name: str) -> bool:
        return uses_name(self.flat, " ".join(plain_titles(name).split()))

    def near(self, name_list: list[str]) -> set[str]:
        """The stems of the sentences that use any of the names, with the sentence on each side."""
        keys = [w for n in name_list for w in plain_titles(n).split() if w not in TITLES and len(w) > 2]
        if not keys:  # no name, or only a title ("the King"): the whole text
            return self.all_stems
        out: set[str] = set()
        for i, sentence in enumerate(self.sentences):
            if any(uses_name(sentence, w) for w in keys):
                for j in (i - 1, i, i + 1):
                    if 0 <= j < len(self.stems):
                        out |= self.stems[j]
        return out


def support(sentence: str, source: Source | str) -> Support:
    """How far `sentence` says what `source` says (see the module's docstring)."""
    source = source if isinstance(source, Source) else Source(source)
    sentence = plain_titles(sentence)
    used = list(names(sentence))
    invented = [n for n in used if not source.has_name(n)]
    name_words = {w.lower() for n in used for w in n.split()}
    content = [w for w in _WORD.findall(sentence)
               if w.lower() not in stop_words_plus() and w.lower() not in SUMMARY_WORDS and w.lower() not in name_words
               and len(w) > 2]
    stems = sorted(_stems(content))
    near = source.near([n for n in used if n not in invented])
    return Support(invented, stems, [s for s in stems if s in near])


def _stems(words) -> set[str]:
    return set(stemmer().stemWords([w.lower().strip("'’-").removesuffix("'s").removesuffix("’s") for w in words]))


