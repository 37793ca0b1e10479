"""What is true now (docs/answers.md, "What is true now"): "Where is Mary?", "Where is the milk now?".

Such a question asks for the latest of several statements, and every statement about Mary matches it equally
well by its words: no ranking by words can tell which came last. So the statements about the subject are read
in document order, as a reader would, and the latest that says where it is wins:

1. The statements: the sentences that write every word of the subject ("Mary"; "milk"), in document order.
2. From the last back, the first that places the subject: a preposition of place (to, into, in, at, ...) in the
   subject's own clause, and what it names ("Mary went back to the kitchen." places Mary in the kitchen), when the
   model takes that for a place one can be in (`locative`: "at his easy manner" places nobody). That place is the
   answer.
3. A thing (a subject that is no name the document writes) goes where the one holding it goes. When the
   latest statement about it names someone and places nothing ("Sandra got the milk."), the answer follows
   Sandra: her latest place from then on, or, when the statement lets go of it ("Sandra dropped the milk."),
   her place when she did. A person is never followed through another ("said Mary to Kitty" does not move Mary).

The answer quotes the statements it rests on and the place is given as `short`; the passages they are in are
its sources, with their place in the document (page, chapter or share), so that with `--until` it is the
answer as of that point. When no statement places the subject, the question goes on to the passages path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from famcli.answer.find import Passage, Passages
from famcli.answer.text import fold, name_words, stemmer, stop_words, words
from famcli.documents.names import _runs
from famcli.documents.sentences import split_sentences

# "Where is X?", "Where are the apples now?": where something is now (not "where was", "where does": a story's
# past or habits)
WHERE_NOW = re.compile(r"^\W*where\s+(?:is|are)\s+(?P<subject>.+?)(?:\s+(?:now|at\s+present|currently))?\W*$",
                       re.I)
# A preposition of place and what it names: "to the kitchen", "into her room" (a word after an article or a
# possessive: not "to see"), "at Longbourn", "in London" (a name after in, into or at: "spoke to Kitty" is no place)
PLACE = re.compile(r"\b(?:(?i:to|into|in|inside|at|onto|towards?)\s+(?P<place>(?i:the|an?|his|her|their|its|my|our)\s+"
                   r"[A-Za-z][\w'’-]*(?:\s+[A-Za-z][\w'’-]*){0,2})|(?i:in|into|inside|at)\s+(?P<named>[A-Z][\w'’-]*))")
# Verbs that let go of a thing, by their Snowball stems: "dropped", "discarded", "put down", "left", "gave away"
CLAUSE_WORDS = 8  # a place further from its subject than this is another clause's
RELEASE = frozenset(stemmer().stemWords("drop discard put leave left give gave throw threw lose lost set "
                                        "abandon hand".split()))


@dataclass
class Statement:
    """A sentence about the subject, with the passage it is in and its place in document order."""

    order: int
    sentence: str
    passage: Passage


@dataclass
class Now:
    """Where the subject is now: the place, the statements that say so (in document order) and their passages."""

    place: str
    said: list[Statement]


def where_now_subject(question: str) -> str | None:
    """The subject of a question that asks where something is now ("Where is the milk?" -> "the milk")."""
    m = WHERE_NOW.match(question.strip())
    return m.group("subject").strip() if m else None


def where_now(passages: Passages, subject: str,
              is_place: Callable[[str, str], bool] = lambda who, place: True) -> Now | None:
    """Where the subject is now by the latest statement that places it (the module docstring); None when none
    does. `is_place(who, place)`: whether what a preposition names is a place one can be in ("the kitchen", not
    "his easy manner"); the answer path asks the model (`locative`)."""
    key = _key(subject)
    if not key:
        return None
    said = _statements(passages, key)
    person = any(w[:1].isupper() for w in subject.split())  # a name, as a reader types it: never carried
    for i in range(len(said) - 1, -1, -1):
        place = _placed(said[i].sentence, key)
        if place and is_place(subject, place):
            return Now(place, [said[i]])
        if person:
            continue
        holder = _holder(said[i].sentence, key)
        if holder is None:
            continue
        moves = _statements(passages, _key(holder))
        let_go = bool(set(stemmer().stemWords(words(said[i].sentence))) & RELEASE)
        before = [m for m in moves if m.order < said[i].order] if let_go else []
        after = [] if let_go else [m for m in moves if m.order > said[i].order]
        for m in reversed(after or before or [m for m in moves if m.order < said[i].order]):
            place = _placed(m.sentence, _key(holder))
            if place and is_place(holder, place):
                return Now(place, sorted([said[i], m], key=lambda s: s.order))
        return None
    return None


def locative(loglik: Callable[[str, Sequence[str]], list[float]]) -> Callable[[str, str], bool]:
    """Whether the model takes a phrase for a place one can be in: its likelihood after "Where is Mary now? Mary
    is in" above its likelihood after "Mary thought about" (the phrase's own likelihood calibrated away). On the
    bAbI rooms, London, Netherfield, Meryton and "the carriage" it is 0.7 to 5.8 nats above; on "his easy
    manner", "her affection", "his eyes", "his own proper person" 0.1 to 1.9 below (docs/answers.md)."""
    def is_place(who: str, place: str) -> bool:
        near, far = loglik(f"Where is {who} now? {who} is in", [" " + place])[0], \
            loglik(f"{who} thought about", [" " + place])[0]
        return near > far
    return is_place


def _key(subject: str) -> tuple[str, ...]:
    """The subject's words that pick it out (folded; titles, articles and stop words out)."""
    stop = stop_words()
    return tuple(w for w in name_words(subject) if w not in stop)


def _statements(passages: Passages, key: tuple[str, ...]) -> list[Statement]:
    """The sentences that write every word of the key, in document order (only the passages BM25 finds for the
    key are split)."""
    scores = passages.scores(" ".join(key))
    out = []
    for i in sorted(int(i) for i in (scores > 0).nonzero()[0]):
        p = passages.items[i]
        for at, sentence in split_sentences(p.text):
            if set(key) <= set(words(sentence)):
                out.append(Statement(p.start + at, " ".join(sentence.split()), p))
    return out


def _placed(sentence: str, key: tuple[str, ...]) -> str:
    """The place a sentence puts the subject in: what the first preposition of place in the subject's own clause
    names, within CLAUSE_WORDS words after its last word ("" when none): "Mary went back to the kitchen", "Jane
    remained at Netherfield"; not "Lydia was a visitor there, when her husband was gone to London"."""
    folded = fold(sentence)
    m = re.search(rf"\b{re.escape(key[-1])}\b", folded)
    if m is None:
        return ""
    clause = re.split(r"[,;:()\"“”‘’—]| -- ", sentence[m.end():])[0]  # the subject's own clause
    found = PLACE.search(" ".join(clause.split()[:CLAUSE_WORDS]))
    if not found:
        return ""
    if found.group("named"):
        return found.group("named")
    first, *rest = found.group("place").split()
    kept = []
    for word in rest:  # the determiner's words up to the first function word ("the carriage to Meryton")
        if word.lower() in stop_words():
            break
        kept.append(word)
    return " ".join([first, *kept]) if kept else ""


def _holder(sentence: str, key: tuple[str, ...]) -> str | None:
    """The first name (a capitalised run that is no function word, famcli.documents.names) other than the
    subject in a sentence about a thing: who has it. A story names its people at the start of its sentences, so
    the document's list of names (which wants a name seen mid-sentence) is not asked."""
    for run, _ in _runs(sentence):
        if name_words(run) and not set(name_words(run)) & set(key):
            return run
    return None
