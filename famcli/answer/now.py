"""What is true now (docs/answers.md, "What is true now"): "Where is Mary?", "Where is the milk now?", "Where was
the milk before the garden?".

Such a question asks for the latest of several statements, and every statement about Mary matches it equally
well by its words: no ranking by words can tell which came last. So the statements about the subject are read
in document order, as a reader would, into its trail of places (`trail`):

1. The statements: the sentences that write every word of the subject ("Mary"; "milk"), in document order.
2. A statement places the subject when a preposition of place (to, into, in, at, ...) in the subject's own
   clause names somewhere ("Mary went back to the kitchen."), and the model takes that for a place one can be in
   (`locative`: "at his easy manner" places nobody).
3. A thing (a subject the reader writes without a capital) goes where the one holding it goes: a statement about
   it that names someone and places nothing ("Sandra got the milk.") hands it to Sandra, whose later places are
   its own, until a statement lets go of it ("Sandra dropped the milk."). A person is never carried by another
   ("said Mary to Kitty" does not move Mary).

Where it is now is the trail's last place; where it was before a place, the place before the last time it went
there. The answer quotes the statements it rests on; their passages are its sources, with their place in the
document, so that with `--until` it is the answer as of that point. When nothing places the subject, the
question goes on to the passages path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from famcli.answer.find import Passage, Passages
from famcli.answer.text import name_words, stop_words
from famcli.text import stemmer
from famcli.text.names import _runs
from famcli.text.sentences import split_sentences
from famcli.text.words import fold, words

# "Where is X?", "Where are the apples now?": where something is now (not "where was", "where does": a story's
# past or habits)
WHERE_NOW = re.compile(r"^\W*where\s+(?:is|are)\s+(?P<subject>.+?)(?:\s+(?:now|at\s+present|currently))?\W*$",
                       re.I)
# "Where was the milk before the garden?"
WHERE_BEFORE = re.compile(r"^\W*where\s+(?:was|were)\s+(?P<subject>.+?)\s+before\s+(?:going\s+to\s+)?"
                          r"(?P<place>.+?)\W*$", re.I)
# A preposition of place and what it names: "to the kitchen", "into her room" (a word after an article or a
# possessive: not "to see"), "at Longbourn", "in London" (a name after in, into or at: "spoke to Kitty" is no place)
PLACE = re.compile(r"\b(?:(?i:to|into|in|inside|at|onto|towards?)\s+(?P<place>(?i:the|an?|his|her|their|its|my|our)"
                   r"\s+[A-Za-z][\w'’-]*(?:\s+[A-Za-z][\w'’-]*){0,2})"
                   r"|(?i:in|into|inside|at)\s+(?P<named>[A-Z][\w'’-]*))")
CLAUSE_WORDS = 8  # a place further from its subject than this is another clause's
CLAUSE_END = re.compile(r"[,;:()\"“”‘’—]| -- ")
# Verbs that let go of a thing, by their Snowball stems: "dropped", "discarded", "put down", "left", "gave away"
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


def where_before(question: str) -> tuple[str, str] | None:
    """The subject and the place of a question that asks where something was before a place ("Where was the milk
    before the garden?" -> ("the milk", "the garden"))."""
    m = WHERE_BEFORE.match(question.strip())
    return (m.group("subject").strip(), m.group("place").strip()) if m else None


@dataclass
class Stop:
    """A place in the subject's trail and the statements that put it there (for a thing carried: the taking or
    the letting go, and the holder's move)."""

    place: str
    who: str  # whose move it was: the subject's, or its holder's
    said: list[Statement]


def trail(passages: Passages, subject: str) -> list[Stop]:
    """The places the document puts the subject in, in document order (the module docstring): its own statements
    that place it, and for a thing (a subject that is no name), the places of whoever holds it while they do."""
    key = _key(subject)
    if not key:
        return []
    own = _statements(passages, key)
    if any(w[:1].isupper() for w in subject.split()):  # a name, as a reader types it: never carried
        return [Stop(p, subject, [s]) for s in own if (p := _placed(s.sentence, key))]
    events: list[tuple[int, str, Statement]] = [(s.order, "own", s) for s in own]
    holders = {h for s in own if (h := _holder(s.sentence, key, passages.lowercase))}
    for h in holders:
        events += [(m.order, h, m) for m in _statements(passages, _key(h))]
    stops: list[Stop] = []
    holder, taken, at = None, None, {}  # who holds it, the statement that gave it to them, where each one is
    for _, kind, s in sorted(events, key=lambda e: (e[0], e[1] != "own")):
        if kind == "own":
            place, who = _placed(s.sentence, key), _holder(s.sentence, key, passages.lowercase)
            if place:
                stops.append(Stop(place, subject, [s]))
            elif who is not None and set(stemmer().stemWords(words(s.sentence))) & RELEASE:
                holder = None  # let go of where the holder is: the thing stays
                if who in at:
                    stops.append(Stop(at[who][0], who, [at[who][1], s]))
            elif who is not None:
                holder, taken = who, s
                if who in at:
                    stops.append(Stop(at[who][0], who, [at[who][1], s]))
        elif (place := _placed(s.sentence, _key(kind))):
            at[kind] = (place, s)
            if kind == holder:
                stops.append(Stop(place, kind, [taken, s]))
    return stops


def where_now(passages: Passages, subject: str,
              is_place: Callable[[str, str], bool] = lambda who, place: True) -> Now | None:
    """Where the subject is now: the last stop of its trail that the model takes for a place (the module
    docstring); None when none is. `is_place(who, place)`: whether what a preposition names is a place one can be
    in ("the kitchen", not "his easy manner"); the answer path asks the model (`locative`)."""
    for stop in reversed(trail(passages, subject)):
        if is_place(stop.who, stop.place):
            return Now(stop.place, stop.said)
    return None


def was_before(passages: Passages, subject: str, later: str,
               is_place: Callable[[str, str], bool] = lambda who, place: True) -> Now | None:
    """Where the subject was before the last time it went to `later` (bAbI's three supporting facts: "Where was
    the milk before the garden?"): the stop before the last stop at that place; None when it never went there."""
    stops = trail(passages, subject)
    want = _key(later)
    last = next((i for i in range(len(stops) - 1, -1, -1) if _key(stops[i].place) == want), None)
    if last is None:
        return None
    for stop in reversed(stops[:last]):
        if _key(stop.place) != want and is_place(stop.who, stop.place):
            return Now(stop.place, sorted({id(s): s for s in stop.said + stops[last].said}.values(),
                                          key=lambda s: s.order))
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
    """The sentences that write every word of the key as a word of its own ("milk", not "milk-white"), in document
    order (only the passages BM25 finds for the key are split)."""
    scores = passages.scores(" ".join(key))
    out = []
    whole = [re.compile(rf"(?<![\w-]){re.escape(w)}(?![\w-])") for w in key]  # "milk", not "milk-white"
    for i in sorted(int(i) for i in (scores > 0).nonzero()[0]):
        p = passages.items[i]
        for at, sentence in split_sentences(p.text):
            if set(key) <= set(words(sentence)) and all(w.search(fold(sentence)) for w in whole):
                out.append(Statement(p.start + at, " ".join(sentence.split()), p))
    return out


def _placed(sentence: str, key: tuple[str, ...]) -> str:
    """The place a sentence puts the subject in: what the first preposition of place in the subject's own clause
    names, within CLAUSE_WORDS words after its last word ("" when none): "Mary went back to the kitchen", "Jane
    remained at Netherfield"; not "Lydia was a visitor there, when her husband was gone to London"."""
    m = re.search(rf"\b{re.escape(key[-1])}\b", sentence, re.I) or \
        re.search(rf"\b{re.escape(key[-1])}\b", fold(sentence))  # "Zoë": where the folded text has it (near)
    if m is None:
        return ""
    clause = CLAUSE_END.split(sentence[m.end():])[0]  # the subject's own clause
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


def _holder(sentence: str, key: tuple[str, ...], lowercase: frozenset[str] = frozenset()) -> str | None:
    """The first name before the thing in its own clause (no comma, semicolon, colon, bracket or quotation mark
    between): who has it ("Mary grabbed the milk."; not "Tashtego guides the bucket, ... like a pail of new
    milk."). A name is a capitalised run
    (famcli.text.names) none of whose words the document writes in lower case (`lowercase`: "Most" begins a
    sentence, "Mary" is someone). A story names its people at the start of its sentences, so the document's list
    of names (which wants a name seen mid-sentence) is not asked."""
    m = re.search(rf"(?<![\w-]){re.escape(key[0])}(?![\w-])", sentence, re.I) or \
        re.search(rf"(?<![\w-]){re.escape(key[0])}(?![\w-])", fold(sentence))
    clause = CLAUSE_END.split(sentence[:m.start()])[-1] if m else ""  # who acts on it in its own clause
    for run, _ in _runs(clause):
        if name_words(run) and not set(name_words(run)) & set(key) and \
                not any(w.lower() in lowercase for w in run.split()):
            return run
    return None
