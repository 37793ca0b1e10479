"""One question, answered from a document's passages (docs/answers.md): a name gathered across the document,
or find, re-rank, read, check.

Everything model-side comes in as callables, so this module needs no session: `loglik(context, continuations)`
(famcli.answer.score.Scorer.loglik), `generate(instruction)` (the model's short answer to a chat turn, and
whether it was cut at its token limit) and `turn(instruction)` (the instruction as the chat template's turn).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from famcli.answer.find import Passage, Passages
from famcli.answer.front import asks_for_the_author, front_matter
from famcli.answer.gather import Gathered, gather
from famcli.answer.now import locative, was_before, where_before, where_now, where_now_subject
from famcli.answer.read import (
    Choice,
    _question_names,
    asks_for_a_name,
    candidates,
    kind,
    sentences_saying,
    units,
    upr_context,
)
from famcli.answer.rules import Rules
from famcli.answer.text import bm25, name_words, stems
from famcli.documents.boilerplate import heading
from famcli.text.sentences import split_sentences
from famcli.text.words import fold

NOT_FOUND = "Not found in the document."


@dataclass
class Found:
    """What a question got: the answer, the short answer alone, the passages read (best first), the sentence
    that says it, and how (chosen | own | quoted | gathered | latest | front | not found)."""

    text: str
    short: str
    passages: list[Passage] = field(default_factory=list)
    sentence: str = ""
    how: str = "not found"
    choices: list[Choice] = field(default_factory=list)
    truncated: bool = False  # the model's own answer, cut at its token limit
    unread: bool = False  # the passages are in a script the model cannot read: quoted, not read
    gathered: list[Gathered] = field(default_factory=list)  # (how "gathered") the candidates, best first
    said: list[str] = field(default_factory=list)  # (how "latest") the statement each passage holds


def answer(passages: Passages, question: str, loglik: Callable[[str, Sequence[str]], list[float]],
           generate: Callable[[str], str], turn: Callable[[str], str], rules: Rules = Rules(),
           fits: Callable[[str], bool] = lambda instruction: True,
           reads: Callable[[str], bool] = lambda text: True) -> Found:
    """The answer to a question from the document's passages: find, read, check (the module docstring).
    `fits(instruction)`: whether the model's window holds the instruction and the answer (a small model's does
    not hold two passages: the last is cut to fit). `reads(text)`: whether the model can read the text's script;
    passages it cannot are quoted (their sentence BM25 ranks best), never read: it made up a translation."""
    if rules.front and asks_for_the_author(question, passages.front, passages.text):
        return written_by(passages)
    missing = missing_names(passages, question) if rules.names else []
    if missing:
        text = f"{NOT_FOUND} (it never mentions {missing[0]}.)"
        return Found(text, text)
    if rules.now and (where_now_subject(question) or where_before(question)):
        found = latest(passages, question, locative(loglik) if rules.now_places else lambda who, place: True)
        if found is not None:
            return found
    if rules.gather and asks_for_a_name(question):
        found = gathered(passages, question, rules)
        if found is not None:
            return found
    read = find(passages, question, loglik, rules)
    if not read:
        text = f"{NOT_FOUND} (no passage matches the question's words.)"
        spread = passages.items[::max(1, len(passages.items) // 50)]  # the document's script, from 50 places
        return Found(text, text, unread=not reads(" ".join(p.text for p in spread)))
    if not reads(" ".join(p.text for p in read)):
        found = quote(read, [p.text for p in read], question, None)
        found.unread = True
        return found
    return read_and_check(read, question, loglik, generate, turn, rules, fits, passages.names)


def read_and_check(read: list[Passage], question: str, loglik, generate, turn, rules: Rules = Rules(),
                   fits: Callable[[str], bool] = lambda instruction: True, known: set[str] | None = None) -> Found:
    """The model reads the passages, each on its own, best first (`each`; else all at once), and the first
    candidate a sentence of what it read says is the answer (`check`; off: the first candidate). Unsure, the quote
    is pointed at by the first of its answers that writes a word of what it read beyond the question's (an answer
    from the model's prior, "Oxford" where the passage says Ingolstadt, points at nothing), else by its first."""
    if rules.each:
        readings = [r for r in (fitted([p.text], question, fits) for p in read) if r]
    else:
        readings = [fitted([p.text for p in read], question, fits)]
    options, owns = [], []
    for evidence in readings:
        these = choices(evidence, question, loglik, generate, turn, rules, known)
        options += these
        for c in these:
            said = sentences_saying(c.text, question, evidence) if rules.check else [""]
            if said:
                return Found(c.text, c.text, read, said[0], "own" if c.own else "chosen", options, c.cut)
        owns += [(c.text, evidence) for c in these if c.own]
    asked = stems(question)
    writes = [own for own, evidence in owns if (stems(own) - asked) & stems(" ".join(evidence))]
    own = (writes or [own for own, _ in owns] or [""])[0]
    found = quote(read, [e for evidence in readings for e in evidence], question, loglik, own, rules.point,
                  rules.after)
    found.choices = options
    return found


def written_by(passages: Passages) -> Found:
    """Who wrote the document, from its front matter (famcli.answer.front); "Not found" when it does not say: the
    names of the story are never its author's (the passages answered "South America" for The Time Machine)."""
    said = front_matter(passages.front, passages.text)
    if said is None:
        text = f"{NOT_FOUND} (it does not say who wrote it.)"
        return Found(text, text)
    who, line, meta = said
    source = "The file's metadata says" if meta else "The document says"
    return Found(f"{who}. {source}: \u201c{line}\u201d", who, [], line, "front")


def latest(passages: Passages, question: str, is_place) -> Found | None:
    """Where the question's subject is now, or was before a place, by the statements that place it in document
    order (famcli.answer.now), quoting the statements it rests on; None when none places it."""
    subject, before = where_now_subject(question), where_before(question)
    now = where_now(passages, subject, is_place) if subject else was_before(passages, *before, is_place)
    if now is None:
        return None
    quoted = " … ".join(f"\u201c{s.sentence}\u201d" for s in now.said)
    place = now.place[:1].upper() + now.place[1:]
    return Found(f"{place}. The document says: {quoted}", now.place, [s.passage for s in now.said],
                 now.said[-1].sentence, "latest", said=[s.sentence for s in now.said])


def gathered(passages: Passages, question: str, rules: Rules = Rules()) -> Found | None:
    """The name with the most evidence across the document (famcli.answer.gather), shown with the sentence that
    writes it and best matches the question; None when no passage that matches the question writes a name."""
    options = gather(passages.resized(rules.gather_words), question, rules.gather_pool, rules.gather_idf,
                     rules.gather_near, rules.gather_asking)
    if not options:
        return None
    best = options[0]
    text = f"{best.name}. The document says: \u201c{best.sentence}\u201d" if best.sentence else f"{best.name}."
    return Found(text, best.name, [best.passage], best.sentence, "gathered", gathered=options)


def find(passages: Passages, question: str, loglik, rules: Rules = Rules()) -> list[Passage]:
    """The passages the model reads, best first: BM25's best `pool`, ordered by the fusion of their own rank
    and their best sentence's rank (`sentences`), or re-ranked by log P(question | passage) (`rerank`)."""
    pool = passages.best(question, rules.pool)
    if rules.sentences and len(pool) > 1:
        pool = by_best_sentence(passages, pool, question)
    if rules.rerank and len(pool) > 1:
        scores = [loglik(upr_context(passages.items[i].text), [" " + question])[0] for i in pool]
        pool = [pool[j] for j in np.argsort(-np.asarray(scores), kind="stable")]
    return [passages.items[i] for i in pool[:rules.read]]


FUSION_K = 60  # reciprocal rank fusion's constant (Cormack et al. 2009)


def by_best_sentence(passages: Passages, pool: list[int], question: str) -> list[int]:
    """The pool (best first by passage BM25) in the order of reciprocal rank fusion of that rank and the rank of
    each passage's best sentence by BM25 among the pool's sentences: a passage that states the fact in one
    sentence is not outranked by longer ones that repeat the question's words here and there."""
    sentences, owner = [], []
    for rank, i in enumerate(pool):
        for _, sentence in split_sentences(passages.items[i].text):
            sentences.append(sentence)
            owner.append(rank)
    scores = bm25(sentences, question) if sentences else np.zeros(0)
    best = np.full(len(pool), -1.0)
    for rank, score in zip(owner, scores):
        best[rank] = max(best[rank], float(score))
    by_sentence = {int(r): place for place, r in enumerate(np.argsort(-best, kind="stable"))}
    fused = [1 / (FUSION_K + rank) + 1 / (FUSION_K + by_sentence[rank]) for rank in range(len(pool))]
    return [pool[r] for r in np.argsort(-np.asarray(fused), kind="stable")]


def choices(evidence: list[str], question: str, loglik, generate, turn, rules: Rules = Rules(),
            known: set[str] | None = None) -> list[Choice]:
    """The candidate answers, best first. The model writes its own short answer; for a question that asks for a
    name or a number, the spans of that kind in the evidence come first: the ones its answer names, then the
    rest by their likelihood given the evidence and the question (less that without the evidence, with
    `calibrate`); its own answer comes last (on a likelihood it would always win: it is the model's own greedy
    text)."""
    context = evidence_turn(evidence, question)
    own, cut = generate(context)
    own = own.strip()
    spans = [Choice(c, 0, 0) for c in candidates("\n".join(evidence), question, kind(question), known)] \
        if rules.spans else []
    if spans:
        texts = [c.text for c in spans]
        given = loglik(turn(context), texts)
        prior = loglik(turn(bare_turn(question)), texts) if rules.calibrate else [0.0] * len(spans)
        for c, g, p in zip(spans, given, prior):
            c.given, c.pmi = g, g - p
        named = fold(own)
        spans.sort(key=lambda c: (fold(c.text) not in named, -c.pmi))
    return spans + ([Choice(own, 0, 0, True, cut)] if own else [])


def fitted(evidence: list[str], question: str, fits: Callable[[str], bool]) -> list[str]:
    """The evidence, its last passage cut by half its words (or dropped) until its turn fits the window."""
    evidence = list(evidence)
    while evidence and not fits(evidence_turn(evidence, question)):
        words = evidence[-1].split(" ")
        if len(words) > 16:
            evidence[-1] = " ".join(words[: len(words) // 2])
        elif len(evidence[-1]) > 128:  # a script without spaces: half its characters
            evidence[-1] = evidence[-1][: len(evidence[-1]) // 2]
        else:
            evidence.pop()
    return evidence


def evidence_turn(evidence: list[str], question: str) -> str:
    text = "\n\n".join(" ".join(e.split()) for e in evidence)
    return f"{text}\n\nQuestion: {question}\nAnswer in a few words."


def bare_turn(question: str) -> str:
    return f"Question: {question}\nAnswer in a few words."


def quote(read: list[Passage], evidence: list[str], question: str, loglik, own: str = "", point: int = 0,
          after: bool = False) -> Found:
    """Unsure: the sentence of the evidence most likely to answer among those that share the question's words,
    with the sentence after it (`after`, and always for a why or how: read.units). Never one that only repeats the
    question (its content words all the question's), asks one or is a heading. Most likely: (100 - `point`)% of the
    question's mean log-likelihood per token after the sentence (UPR) plus `point`% of that of the question followed
    by the model's own answer `own`: the model's answer is often the right sentence misread, so the sentence that
    makes it likely is the one to show (as Generation-Augmented Retrieval adds the answer to the query, Mao et al.
    2021); by BM25 when `loglik` is None. (Means per token: the longer the answer, the more of the second term is
    the answer's.)"""
    asked, said = stems(question), []
    for e in evidence:
        for first, unit in units(e, after or kind(question) == "reason"):
            if stems(first) & asked and stems(unit) - asked and not asks_or_heads(first) and unit not in said:
                said.append(unit)
    if not said:
        text = f"{NOT_FOUND} (no sentence of the best passages says more than the question.)"
        return Found(text, text, read)
    said = said[:16]
    if loglik is None:
        scores = bm25(said, question)
    elif own and point:
        pair = [loglik(upr_context(s), [" " + question, f" {question}\nAnswer: {own}"]) for s in said]
        scores = [(1 - point / 100) * q + point / 100 * qa for q, qa in pair]  # mean log-likelihoods per token
    else:
        scores = [loglik(upr_context(s), [" " + question])[0] for s in said]
    best = said[int(np.argmax(scores))]
    return Found(f"The document says: \u201c{best}\u201d", best, read, best, "quoted")


def asks_or_heads(sentence: str) -> bool:
    """A sentence that asks a question or heads a chapter ("Who Stole the Tarts?"): never quoted as an answer."""
    return sentence.rstrip("”\"’' ").endswith("?") or heading(sentence)


def missing_names(passages: Passages, question: str) -> list[str]:
    """The names the question asks about, when the document holds none of the words of any of them (folded: case,
    accent marks, possessives and titles aside; together or apart). A question that names what the document
    writes and also a word of its own ("the captain who takes Victor aboard in the Arctic", where the book says
    "the north") asks about the document: empty."""
    named = [n for n in _question_names(question) if name_words(n)]
    missing = [n for n in named if not set(name_words(n)) & passages.words]
    return missing if missing and len(missing) == len(named) else []
