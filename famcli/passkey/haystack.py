"""Facts hidden in book text: held-out documents for measuring recall (docs/recall.md) and for the tests.

A document is a stretch of a public-domain book (Project Gutenberg header and licence cut off) with a few
facts inserted at sentence ends at chosen depths. The facts use templates, names and places that the
training data (famcli.training.data) never uses, and most questions are paraphrases that share few words with
their fact, so a lexical scorer cannot simply match the sentence.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

_TABLES = json.loads(Path(__file__).with_name("haystack.json").read_text(encoding="utf-8"))
TEMPLATES = tuple(tuple(t) for t in _TABLES["templates"])  # (fact, question, answer key)
PEOPLE, PETS = tuple(_TABLES["people"]), tuple(_TABLES["pets"])
CITIES, COLORS = tuple(_TABLES["cities"]), tuple(_TABLES["colors"])


@dataclass
class Fact:
    sentence: str
    question: str
    answer: str
    char: int = 0  # where the sentence starts in the document's text

    def found_in(self, reply: str) -> bool:
        return self.answer.lower() in reply.lower()


def book_text(path: Path) -> str:
    """A Gutenberg book's body: LF line ends, header and licence cut at the START / END markers."""
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    start = text.find("*** START OF")
    if start >= 0:
        text = text[text.find("\n", start) + 1:]
    end = text.find("*** END OF")
    return text if end < 0 else text[:end]


def random_fact(rng: random.Random, template: tuple[str, str, str] | None = None) -> Fact:
    sentence, question, key = template or rng.choice(TEMPLATES)
    values = {"n": str(rng.randint(1000, 99999)), "person": rng.choice(PEOPLE), "pet": rng.choice(PETS),
              "city": rng.choice(CITIES), "color": rng.choice(COLORS)}
    return Fact(sentence.format(**values), question.format(**values), values[key])


def haystack(books: list[Path], chars: int, depths: list[float], rng: random.Random) -> tuple[str, list[Fact]]:
    """About `chars` characters of one book (wrapping around when short), one fact per depth, each placed
    after the sentence end nearest its depth; facts never repeat a template within a document."""
    body = book_text(rng.choice(books))
    start = rng.randrange(len(body))
    text = (body[start:] + "\n\n" + body) * (chars // max(1, len(body)) + 1)
    text = text[:chars]
    facts: list[Fact] = []
    templates = rng.sample(TEMPLATES, len(depths))
    for depth, template in zip(sorted(depths, reverse=True), templates):
        fact = random_fact(rng, template)
        at = _sentence_end(text, int(depth * len(text)))
        text = text[:at] + " " + fact.sentence + text[at:]
        for f in facts:
            f.char += len(fact.sentence) + 1
        fact.char = at + 1
        facts.append(fact)
    return text, facts[::-1]


def _sentence_end(text: str, near: int) -> int:
    found = re.compile(r"[.!?][\"'”’]?\s").search(text, near)
    return found.end() - 1 if found else near
