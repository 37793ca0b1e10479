"""Reading the passages that may hold an answer (docs/answers.md, "Reading").

The model scores and chooses: the candidates are the spans of the kind the question asks for (a name for who,
where and which; a number for how many) found in the best passages, together with the model's own short
answer; each is scored by its likelihood given the passages and the question, calibrated against the same
without the passages (pointwise mutual information: how much the passages, not the model's prior, make it
likely). The best candidate that a sentence of the evidence says about the question's subject is the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from famcli.answer.text import name_words, stems
from famcli.documents.boilerplate import heading
from famcli.text.names import _runs, name_pattern, names
from famcli.text.sentences import split_sentences
from famcli.text.words import words

# What a question asks for, from its first words. The one place the answer path reads a question's form.
KINDS = (
    # "how many", "how tall", "how old": a measure; not "how did", "how is", "how to"
    ("number", re.compile(r"^\W*how\s+(?!(?:do|does|did|is|are|was|were|can|could|would|should|will|has|have|"
                          r"had|to|come|so)\b)\w+", re.I)),
    ("reason", re.compile(r"^\W*(why|how)\b", re.I)),  # the reason follows what matches the question
    ("name", re.compile(r"^\W*(who|whom|whose|where|which)\b|\b(name|named|called)\b", re.I)),
)
NUMBER_WORDS = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
                "hundred thousand million half dozen score").split()
NUMBER = re.compile(r"\b(?:\d[\d,.]*|(?:(?:%s)(?:[\s-]+(?:and\s+)?)?)+)\b" % "|".join(NUMBER_WORDS), re.I)
COUNT = re.compile(r"^\W*how\s+(many|old)\b", re.I)  # asks for a number, and only a number answers it
COUNTED = re.compile(r"\d+|\b(?:(?:%s)s?|once|twice)\b" % "|".join(NUMBER_WORDS), re.I)


def numbers_of(text: str) -> set[str]:
    """The numbers a text writes, in digits or words, lowered ("hundreds", "twice" and the 5 of "5th" among them)."""
    return {m.group(0).lower() for m in COUNTED.finditer(text)}


# Of the questions that ask for a name, those that ask for one outright: who, whom, whose, "the name of", "called"
# ("Where was the key hidden?", "Which number ...?" may ask for what no name says).
OUTRIGHT = re.compile(r"^\W*(who|whom|whose)\b|\b(name|named|called)\b", re.I)


def asks_for_a_name(question: str) -> bool:
    return kind(question) == "name" and OUTRIGHT.search(question) is not None


def kind(question: str) -> str:
    """name | number | reason | open: what the question asks for (reason and open: the model's own answer
    only, no spans)."""
    return next((k for k, pattern in KINDS if pattern.search(question)), "open")


def upr_context(passage: str) -> str:
    """The text the question is scored after when passages are re-ranked (UPR's prompt, Sachan et al. 2022)."""
    return f"Passage: {passage}\nPlease write a question based on this passage.\nQuestion:"


def question_only(question: str) -> str:
    return " " + question


def candidates(text: str, question: str, what: str, known: set[str] | None = None) -> list[str]:
    """The spans of the kind asked for in the text, each once, none that only repeats the question's words.
    Names are the capitalised runs the document writes as names (`known`: famcli.text.names over the whole
    document; without it, over the text)."""
    subject = question_subject(question) or stems(question)
    if what == "name":
        known = known if known is not None else set(names(text))
        found = [_as_written(run, text) for run, _ in _runs(text) if run in known]
    elif what == "number":
        found = [m.group(0).strip().strip("-").strip() for m in NUMBER.finditer(text)]
    else:
        return []
    out, seen = [], set()
    for span in found:
        key = tuple(name_words(span)) if what == "name" else tuple(words(span))
        if key and key not in seen and not (what == "name" and stems(span) & subject):
            seen.add(key)
            out.append(span)
    return out


def _as_written(name: str, text: str) -> str:
    """A name as the text writes it ("Mr Darcy" found as "Mr. Darcy")."""
    m = re.search(name_pattern(name), text)
    return " ".join(m.group(0).split()) if m else name


@dataclass
class Choice:
    """A candidate answer with its scores: log P given the evidence, and that less log P without it."""

    text: str
    given: float
    pmi: float
    own: bool = False  # the model's own short answer, not a span of the passages
    cut: bool = False  # (the model's own answer) cut at its token limit


def units(passage: str, pair: bool = False) -> list[tuple[str, str]]:
    """What can say an answer, each with its first sentence: a passage's sentences; with `pair` (a why or how
    question, a quote), each sentence with the one after it unless that one is a heading."""
    sentences = [sentence for _, sentence in split_sentences(passage)]
    return [(first, f"{first} {then}" if pair and then and not heading(then) else first)
            for first, then in zip(sentences, sentences[1:] + [""])]


ASKING = frozenset({"name", "call"})  # stems a question asks with that no sentence need repeat ("the name of")


def sentences_saying(answer: str, question: str, evidence: list[str]) -> list[str]:
    """The sentences of the evidence that say the answer about the question's subject: each holds the answer's
    words (its content stems not in the question), a word of the question's subject (its names, when it has any)
    and a word of what the question asks about it (its other content words, when it has any): "Charlotte
    ... Mr. Darcy" does not say whom Charlotte marries; "Charlotte ... married ... Mr. Collins" does. A number, a
    day or a part of a book is a word the answer says ("five daughters" is not said by "two daughters"), and an
    answer to "how many" or "how old" says a number the question does not ("every year" is no answer)."""
    q_stems = stems(question)
    a_stems = stems(answer, naming=True) - stems(question, naming=True)
    if not a_stems or (COUNT.match(question) and not numbers_of(answer) - numbers_of(question)):
        return []
    subject = question_subject(question)
    asked = q_stems - subject - ASKING
    out = []
    for passage in evidence:
        for _, sentence in units(passage, kind(question) == "reason"):
            said = stems(sentence, naming=True)
            if a_stems <= said and (not subject or said & subject) and (not asked or said & asked):
                out.append(sentence)
    return out


_CAPITAL = re.compile(r"\b(?:(?:Mr|Mrs|Ms|Dr|St)\.\s+)?[A-Z][\w'’-]*(?:\s+(?:of\s+|de\s+)?[A-Z][\w'’-]*)*")


def _question_names(question: str) -> list[str]:
    """Capitalised runs after the question's first word ("Mr. Darcy", "Julia Stoner")."""
    rest = question.strip().split(None, 1)[1] if len(question.split()) > 1 else ""
    found = [re.sub(r"['’]s?$", "", m.group(0)) for m in _CAPITAL.finditer(rest)]
    return [name for name in found if name_words(name)]


def question_subject(question: str) -> set[str]:
    """The stems of the names a question is about (empty when it names nobody)."""
    return stems(" ".join(n for name in _question_names(question) for n in name_words(name)))
