"""Training documents for FAM adaptation, generated here (no downloads), deterministic per step and seed.

Four kinds, mixed per step (docs/design.md, section 6 and issue 4):
- facts: a fact (pass key, secret number, door code, a name, a place) hidden at a random depth in filler,
  asked for at the end; loss on the answer only. Several templates, so the memory learns more than one.
- lm: plain language modelling on book text through the memory (keeps ordinary use intact).
- copy: the paper's auxiliary task, `[repeat random segment]:` then 256 tokens copied from earlier.
Filler is book text (when a corpus is given) or synthetic sentences; neither is the standard passkey
filler ("The grass is green. ..."), which `famcli passkey` evaluates with.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

_TABLES = json.loads(Path(__file__).with_name("facts.json").read_text(encoding="utf-8"))
HEADERS = tuple(_TABLES["headers"])
FACTS = tuple(tuple(f) for f in _TABLES["facts"])  # (needle, question, answer); {n} a number, {name}, {place}
NAMES, PLACES = tuple(_TABLES["names"]), tuple(_TABLES["places"])
_ADJ, _NOUN, _VERB = tuple(_TABLES["adjectives"]), tuple(_TABLES["nouns"]), tuple(_TABLES["verbs"])
COPY_MARK = "\n[repeat random segment]:"
COPY_LEN = 256


def synthetic_sentence(rng: random.Random) -> str:
    a, b = rng.sample(_NOUN, 2)
    return f"The {rng.choice(_ADJ)} {a} {rng.choice(_VERB)} the {rng.choice(_ADJ)} {b}. "


@dataclass
class Example:
    kind: str
    ids: list[int]
    weights: list[float]  # per token: the loss weight of predicting it (0 = no loss)

    @property
    def answer_tokens(self) -> int:
        return sum(1 for w in self.weights if w > 0)


class TrainingData:
    """Makes the example for step s from (seed, s) alone, so a resumed run sees the same data."""

    def __init__(self, tokenizer, corpus: list[Path] | None = None, seed: int = 0,
                 mix: tuple[float, float, float] = (0.8, 0.1, 0.1), far: float = 0.8, window: int = 0):
        """mix: shares of facts, lm and copy examples (lm and copy need a corpus); far: share of facts
        whose needle lies more than `window` tokens before the question, so only the memory can hold it."""
        self.enc = lambda text: tokenizer.encode(text, add_special_tokens=False)
        self.seed = seed
        self.mix = mix
        self.far = far
        self.window = window
        self.books: list[list[int]] = []
        self.book_names: list[str] = []
        for path in corpus or []:
            text = Path(path).read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
            start = text.find("*** START OF")
            text = text[text.find("\n", start) + 1:] if start >= 0 else text
            end = text.find("*** END OF")
            self.books.append(self.enc(text[:end] if end > 0 else text))
            self.book_names.append(Path(path).name)

    def summary(self) -> dict:
        return {"books": self.book_names, "book_tokens": sum(len(b) for b in self.books),
                "facts": len(FACTS), "mix": {"facts": self.mix[0], "lm": self.mix[1], "copy": self.mix[2]},
                "far": self.far, "window": self.window,
                "filler": "book text and synthetic sentences" if self.books else "synthetic sentences"}

    def rng(self, step: int) -> random.Random:
        return random.Random(self.seed * 1_000_003 + step)

    def filler(self, rng: random.Random, n: int) -> list[int]:
        if self.books and rng.random() < 0.6:
            book = rng.choice(self.books)
            if len(book) > n + 1:
                start = rng.randrange(0, len(book) - n)
                return book[start:start + n]
        out: list[int] = []
        while len(out) < n:
            out += self.enc(synthetic_sentence(rng))
        return out[:n]

    def example(self, step: int, length: int, window: int | None = None) -> Example:
        """The example for `step`, about `length` tokens; `window`: the reading window of this example's block
        size (default: the one given at construction)."""
        rng = self.rng(step)
        r = rng.random()
        kind = "facts" if r < self.mix[0] or not self.books else "lm" if r < self.mix[0] + self.mix[1] else "copy"
        if kind == "facts":
            return self.facts(rng, length, self.window if window is None else window)
        return getattr(self, kind)(rng, length)

    def facts(self, rng: random.Random, length: int, window: int) -> Example:
        needle, question, answer = rng.choice(FACTS)
        values = {"n": rng.randint(1, 50000), "name": rng.choice(NAMES), "place": rng.choice(PLACES)}
        head = self.enc(rng.choice(HEADERS))
        needle_ids = self.enc(needle.format(**values))
        q_ids = self.enc("\n\n" + question.format(**values))
        a_ids = self.enc(answer.format(**values))
        room = max(0, length - len(head) - len(needle_ids) - len(q_ids) - len(a_ids))
        body = self.filler(rng, room)
        if rng.random() < self.far and len(body) > window:
            cut = int(rng.random() * (len(body) - window))  # at least `window` tokens follow the needle
        else:
            cut = int(rng.random() * len(body))
        ids = head + body[:cut] + needle_ids + body[cut:] + q_ids + a_ids
        weights = [0.0] * (len(ids) - len(a_ids)) + [1.0] * len(a_ids)
        return Example("facts", ids, weights)

    def lm(self, rng: random.Random, length: int) -> Example:
        ids = self.filler(rng, length)
        return Example("lm", ids, [0.0] + [1.0] * (len(ids) - 1))

    def copy(self, rng: random.Random, length: int) -> Example:
        body = self.filler(rng, max(length - COPY_LEN - 8, COPY_LEN + 1))
        start = rng.randrange(0, len(body) - COPY_LEN)
        mark = self.enc(COPY_MARK)
        ids = body + mark + body[start:start + COPY_LEN]
        return Example("copy", ids, [0.0] * (len(body) + len(mark)) + [1.0] * COPY_LEN)


def find_books(items: list[Path] | None) -> list[Path]:
    """`--corpus`: plain-text books given as files or folders (their *.txt files, sorted)."""
    from famcli.documents.registry import DocumentError

    books = []
    for item in items or []:
        if item.is_dir():
            books += sorted(item.glob("*.txt"))
        elif item.is_file():
            books.append(item)
        else:
            raise DocumentError(f"corpus not found: {item}")
    if items and not books:
        raise DocumentError("the corpus has no .txt files")
    return books


def parse_mix(text: str) -> tuple[float, float, float]:
    """`--mix`: three non-negative shares of facts, language-modelling and copy documents, normalised."""
    from famcli.common.errors import UserError

    try:
        shares = tuple(float(x) for x in text.split(","))
    except ValueError:
        shares = ()
    if len(shares) != 3 or min(shares) < 0 or sum(shares) <= 0:
        raise UserError(f"--mix {text!r}: give three non-negative shares, e.g. 0.8,0.1,0.1")
    return tuple(x / sum(shares) for x in shares)

