"""Summaries of whole documents: a note on each section from the sentences that carry it, then the summary part by
part.

    sections   (famcli.summary.notes) the text is cut into sections of whole sentences, a sixteenth of it each
               (a paragraph to 3k tokens; 1-3k for the model's notes); the plain model reads the
               sentences that carry each (famcli.summary.extract, about NOTE_WORDS words) and writes one sentence on
               them: a greedy note and drafts decoded with it (nudged towards the names the section brings in),
               the best kept; one that names someone the section never mentions is never kept. The notes of
               many sections are decoded in the same steps (famcli.core.branches.decode_prompts)
    parts      the notes are split into consecutive parts (2 / 4 / 8 for --length short / medium / long); for
               each part a few candidate summaries are written (greedy and sampled reductions of its notes,
               a greedy one nudged towards the part's names, and its two best notes as they are) and the one
               that names most of the part's own people and places (weighted by how particular they are to
               the part: the share of their uses in it), invents fewest and repeats nothing is kept (`score`);
               every part's candidates are decoded together
    summary    who and where (`cast`: the people who act in most sections, the places), then the parts'
               summaries told as one text, in order and none twice, and how the document ends when the last
               part's summary does not say it (famcli.summary.told)

Measured on the corpus books (docs/summaries.md; graded by examples/summary_grade.py, which shares no code with it).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass

from famcli.common.choices import SummaryLength
from famcli.core.generate import Sampling
from famcli.models.prompts import NO_REPEAT, chat_turn
from famcli.summary.notes import (
    BOOSTS,
    HINT_NAMES,
    SUPPORTED,
    Section,
    Writer,
    boost_names,
    cut_sentences,
    decode_sentences,
    invented_names,
    plain_telling,
    score,
)
from famcli.summary.support import Source, support
from famcli.summary.telling import finished, unusual
from famcli.summary.told import told_already, words_said
from famcli.text.names import uses_name

REDUCE_NOTES = "Summarize these notes in two sentences, keeping the names and the events."
PART_TOKENS = 50  # summary tokens per part of the document (two sentences)
LENGTHS: dict[SummaryLength, int] = {"short": 100, "medium": 200, "long": 400}  # --length: summary tokens
SAMPLED = 2  # sampled reductions per part, next to the two greedy ones and the extract
PART_SAMPLING = Sampling(temperature=0.7, top_p=0.95, no_repeat_ngram=NO_REPEAT)


def summary_parts(n_notes: int, max_tokens: int) -> list[tuple[int, int]]:
    """The default summary tells the document in consecutive parts, one per PART_TOKENS of the summary (and
    at most one per note): [start, end) note ranges."""
    n = max(1, min(n_notes, max_tokens // PART_TOKENS))
    bounds = [round(i * n_notes / n) for i in range(n + 1)]
    return list(zip(bounds, bounds[1:]))


@dataclass
class Candidate:
    text: str
    how: str  # greedy | boosted | hinted | sampled | extract
    score: float = 0.0


def part_names(sections: list[Section]) -> Counter:
    """The names a part is about: those its notes use that its text uses too (a note's invention is not
    one), and the few each of its sections uses most, counted once per note or section."""
    source = Counter()
    for s in sections:
        source.update(s.names)
    counts = Counter(n for s in sections if s.note for n in source if uses_name(s.note, n))
    counts.update(n for s in sections for n in s.hint)
    return counts


def part_weights(parts: list[list[Section]]) -> list[dict[str, float]]:
    """Each part's names weighted by use and by how particular they are to it: (1 + log of the notes and
    sections that use it) x log(1 + parts x the share of the name's uses in the whole text that fall in this
    part). A name the part alone uses weighs log(1 + parts), one used evenly everywhere log 2: a part's summary
    should tell what happens in that part, not name the hero of every part again. (Shares, not the number of
    parts a name occurs in: one mention elsewhere does not make the part's own people common.)"""
    counts = [part_names(p) for p in parts]
    uses = [sum((s.names for s in p), Counter()) for p in parts]
    total = sum(uses, Counter())
    return [{n: (1 + math.log(c)) * math.log(1 + len(parts) * u[n] / max(1, total[n])) for n, c in part.items()}
            for part, u in zip(counts, uses)]


def part_summary(session: Writer, sections: list[Section], weights: dict[str, float], max_tokens: int,
                 sampling: Sampling) -> Candidate:
    """The best of a few candidate summaries of one part (see the module's docstring)."""
    return summarize_planned(session, [part_plan(session, sections, weights, max_tokens, sampling)], max_tokens)[0]


@dataclass
class PartPlan:
    """What a part's candidates are written from: its notes (those that fit the window), the prompts' rows, and
    what scores them."""

    notes: list[str]
    weights: dict[str, float]
    source_words: set[str]
    requests: list[tuple[str, list[tuple[str, Sampling]]]]  # (instruction, [(how, sampling)])
    source: Source | None = None  # the part's text, what its summary is checked against
    known: frozenset = frozenset()  # the names the document used before the part


def part_plan(session: Writer, sections: list[Section], weights: dict[str, float], max_tokens: int,
              sampling: Sampling) -> PartPlan:
    """A part's candidates: a greedy reduction of its notes and one boosted towards its names, a reduction told
    its names with two sampled ones; its two best notes as they are are added when the plan is chosen from."""
    notes = [s.note for s in sections if s.note]
    source_words = {w for s in sections for n in s.names for w in n.split()}
    if not notes:
        return PartPlan([], weights, source_words, [])
    source, known = Source("\n".join(s.text for s in sections)), sections[0].known
    notes = _fitting(session, notes, weights, source_words, max_tokens)
    top = sorted(weights, key=weights.get, reverse=True)[:HINT_NAMES]
    sampling = dataclasses.replace(sampling, no_repeat_ngram=sampling.no_repeat_ngram or NO_REPEAT)
    hinted = REDUCE_NOTES if not top else \
        f"Summarize these notes in two sentences: what happens, and who ({', '.join(top)})."
    first = boost_names(session, weights, Counter(weights))
    boosted = [("boosted", dataclasses.replace(sampling, boost=tuple((t, BOOSTS[0]) for t in first)))] if first else []
    return PartPlan(notes, weights, source_words, [
        (REDUCE_NOTES, [("greedy", sampling)] + boosted),
        (hinted, [("hinted", sampling)] + [
            ("sampled", dataclasses.replace(PART_SAMPLING, seed=(sampling.seed or 0) + k + 1))
            for k in range(SAMPLED)])], source, known)


def summarize_planned(session: Writer, plans: list[PartPlan], max_tokens: int) -> list[Candidate]:
    """Every part's candidates decoded together (`_reductions`), and each part's best: finished first, then the
    best score; the first of equals: greedy before sampled before extract."""
    wanted = [(plan.notes, instruction, rows) for plan in plans for instruction, rows in plan.requests]
    decoded = iter(_reductions(session, wanted, max_tokens))
    chosen = []
    for plan in plans:
        if not plan.notes:
            chosen.append(Candidate("", "empty"))
            continue
        candidates = [c for _ in plan.requests for c in next(decoded)]
        candidates.append(Candidate(_extract(plan.notes, plan.weights, plan.source_words), "extract"))
        for c in candidates:
            c.score = score(c.text, plan.weights, plan.source_words, echo=PART_ECHO)
        chosen.append(max(candidates, key=lambda c: _rank(c, plan)))
    return chosen


PART_ECHO = ("notes on consecutive parts", "these notes", "summarize")


def _rank(c: Candidate, plan: PartPlan) -> tuple[bool, bool, bool, float]:
    """A part's candidates: one that names nobody the part's text lacks first, then one whose words are mostly
    the text's near its names, then one that finishes its sentences, then the score (famcli.summary.support)."""
    if plan.source is None:
        return True, True, finished(c.text), c.score
    return (not invented_names(c.text, plan.source, plan.known), support(c.text, plan.source).share >= SUPPORTED,
            finished(c.text), c.score)


def _fitting(session: Writer, notes: list[str], weights: dict[str, float], source_words: set[str],
             max_tokens: int) -> list[str]:
    """A part's notes, or, when they outgrow the model's window with the prompt and the answer, its best notes
    (by `score`) in document order that fit: a part of a long book read in many sections has many notes."""
    room = session.loaded.context_window - (SAMPLED + 2) * max_tokens - 64  # the prompt and its rows
    if len(session.tokens.encode(_notes_prompt(session, notes, REDUCE_NOTES))) <= room:
        return notes
    ranked = sorted(range(len(notes)), key=lambda i: -score(notes[i], weights, source_words, PART_ECHO))
    kept: list[int] = []
    for i in ranked:
        trial = sorted(kept + [i])
        if len(session.tokens.encode(_notes_prompt(session, [notes[j] for j in trial], REDUCE_NOTES))) > room:
            break
        kept = trial
    return [notes[i] for i in kept] or [notes[ranked[0]]]


def _reductions(session: Writer, wanted: list[tuple[list[str], str, list[tuple[str, Sampling]]]],
                max_tokens: int) -> list[list[Candidate]]:
    """For each (notes, instruction, rows), one reduction of the notes per row; every prompt read once and all
    decoded together."""
    tok = session.loaded.tokenizer
    requests = [(tok.encode(_notes_prompt(session, notes, instruction), add_special_tokens=False),
                 [s for _, s in rows]) for notes, instruction, rows in wanted]
    texts = decode_sentences(session, requests, 2, max_tokens)
    return [[Candidate(plain_telling(text), how) for (how, _), text in zip(rows, got)]
            for (_, _, rows), got in zip(wanted, texts)]


def _extract(notes: list[str], weights: dict[str, float], source_words: set[str],
             told: set[str] | None = None) -> str:
    """The part's two best notes as they are, in order, each cut to its first sentence; for a log (notes that end
    in no stop: lines) the two least like the part's other lines (`unusual`: its warnings and errors), one under
    the other. A note already `told` (by an earlier part: a text that repeats itself) or said twice in the part
    is not chosen again; the ones chosen join `told`."""
    told = told if told is not None else set()
    first = [cut_sentences(n + " ", 1) or n for n in notes]
    lines = not any(finished(n) for n in first)
    value = unusual(first) if lines else [score(n, weights, source_words, PART_ECHO) for n in first]
    chosen: list[int] = []
    for i in sorted(range(len(first)), key=lambda i: -value[i]):
        if len(chosen) < 2 and not told_already(first[i], told):
            chosen.append(i)
            told.add(words_said(first[i]))
    texts = [first[i] for i in sorted(chosen)]
    return "\n".join(texts) if lines else " ".join(texts)


def summarize_parts(session: Writer, sections: list[Section], max_tokens: int,
                    sampling: Sampling) -> list[Candidate]:
    """The default summary: one chosen candidate per part, in order; read in order they tell the document
    from beginning to end. One paragraph written from all the notes at once named the beginning and little
    else (docs/summaries.md). Every part's candidates are decoded together."""
    parts = [sections[a:b] for a, b in summary_parts(len(sections), max_tokens)]
    budget = max(1, max_tokens // len(parts))
    plans = [part_plan(session, p, w, budget, sampling) for p, w in zip(parts, part_weights(parts))]
    return summarize_planned(session, plans, budget)


def extract_parts(sections: list[Section], max_tokens: int) -> list[Candidate]:
    """The summary without the model: each part's two best notes as they are (what an interrupted run prints:
    nothing to wait for, nothing new said)."""
    parts = [sections[a:b] for a, b in summary_parts(len(sections), max_tokens)]
    out, told = [], set()
    for part, weights in zip(parts, part_weights(parts)):
        notes = [s.note for s in part if s.note]
        words = {w for s in part for n in s.names for w in n.split()}
        out.append(Candidate(_extract(notes, weights, words, told) if notes else "", "extract"))
    return out


def summarize_notes(session: Writer, notes: list[str], instruction: str, max_tokens: int,
                    sampling: Sampling) -> str:
    """A summary written from all the notes at once, read whole by the plain model (`--instruction`); notes
    that outgrow its window are first reduced in rounds (groups of consecutive notes become one note each)."""
    sampling = dataclasses.replace(sampling, no_repeat_ngram=sampling.no_repeat_ngram or NO_REPEAT)
    window = session.loaded.context_window - max_tokens - 16
    notes = [n for n in notes if n]
    while len(notes) > 1 and len(session.tokens.encode(_notes_prompt(session, notes, instruction))) > window:
        group = max(2, len(notes) // 4)
        notes = [_complete_plain(session, _notes_prompt(session, notes[i:i + group], REDUCE_NOTES), 80, sampling)
                 for i in range(0, len(notes), group)]
    return _complete_plain(session, _notes_prompt(session, notes, instruction), max_tokens, sampling)


def _notes_prompt(session: Writer, notes: list[str], instruction: str) -> str:
    numbered = "\n".join(f"{i + 1}. {' '.join(n.split())}" for i, n in enumerate(notes))
    turn = f"Notes on consecutive parts of a document, in order:\n{numbered}\n\n{instruction}"
    return chat_turn(session.loaded.tokenizer, turn)


def _complete_plain(session: Writer, prompt: str, max_tokens: int, sampling: Sampling) -> str:
    engine = session.final_reader()
    return session.complete(engine.new_state(), prompt, max_tokens, sampling, engine=engine)
