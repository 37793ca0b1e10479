"""Summaries of whole documents: a note on each section from the sentences that carry it, then the summary part by
part.

    sections   the text is cut into sections of 1-3k tokens; from each, the sentences that carry it (famcli.jobs.extract:
               LexRank raised by the section's particular names, about NOTE_WORDS words) are what the plain model
               reads, and it writes one sentence on them: a greedy note and drafts decoded with it (nudged towards
               the names the section brings in), the best kept; one that copies a chapter title or names none of
               the section's people fails, one that names someone the section never mentions is never kept.
               The notes of many sections are decoded in the same steps (famcli.core.branches.decode_prompts)
    parts      the notes are split into consecutive parts (2 / 4 / 8 for --length short / medium / long); for
               each part a few candidate summaries are written (greedy and sampled reductions of its notes,
               a greedy one nudged towards the part's names, and its two best notes as they are) and the one
               that names most of the part's own people and places (weighted by how particular they are to
               the part: the share of their uses in it), invents fewest and repeats nothing is kept (`score`);
               every part's candidates are decoded together
    summary    the parts' summaries in order: the document from beginning to end

Measured on the corpus books (docs/summaries.md, examples/summary_check.py).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from famcli.core.branches import decode_prompts
from famcli.core.generate import Sampling
from famcli.documents.boilerplate import headings
from famcli.documents.names import ABBREVIATIONS, names, people, salient
from famcli.jobs.extract import carrying_sentences
from famcli.jobs.session import NO_REPEAT, Session, chat_turn

SECTION_MIN, SECTION_MAX = 1000, 3000  # tokens a section note is written from: read whole, with full attention
SECTION_NOTE = "In one sentence: what happens in this passage, and who is in it?"
HINT_NAMES = 4  # names a section's note is told about
REDUCE_NOTES = "Summarize these notes in two sentences, keeping the names and the events."
PART_TOKENS = 50  # summary tokens per part of the document (two sentences)
LENGTHS = {"short": 100, "medium": 200, "long": 400}  # --length: summary tokens
SAMPLED = 2  # sampled reductions per part, next to the two greedy ones and the extract
PART_SAMPLING = Sampling(temperature=0.7, top_p=0.95, no_repeat_ngram=NO_REPEAT)


@dataclass
class Section:
    """One section of the document: where it is, the names it uses, and its note."""

    tokens: tuple[int, int]
    place: str | None
    names: Counter = field(default_factory=Counter)  # every name the section's text uses, with counts
    hint: list[str] = field(default_factory=list)  # the few it uses most, people first: told to the note
    note: str = ""
    source: str = "model"  # model | sentence (every draft named someone the section never does) | earlier run
    text: str = field(default="", repr=False)  # the section's text (not kept in --json: its range is)
    weights: dict[str, float] = field(default_factory=dict, repr=False)  # note_weights: how particular each name is
    extract: str = field(default="", repr=False)  # the sentences the note was written from (famcli.jobs.extract)

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens), "place": self.place, "names": self.hint, "note": self.note,
                "from": self.source}


def section_size(total_tokens: int | None, sections: int = 16, window: int = 8192) -> int:
    """Tokens per section: about `sections` over a known length, within what the model reads well at once
    (and half its window at most, leaving room for the prompt and the note)."""
    cap = min(SECTION_MAX, window // 2)
    if not total_tokens:
        return cap
    return min(cap, max(SECTION_MIN, -(-total_tokens // sections)))


def section_names(text: str, limit: int = HINT_NAMES) -> tuple[Counter, list[str]]:
    """A section's names with their counts, and the few it is most about (people first)."""
    counts = names(text)
    candidates = salient(text, limit=2 * limit)
    who = people(text, candidates)
    return counts, (who + [c for c in candidates if c not in who])[:limit]


def text_place(text: str, carried: str | None) -> tuple[str | None, str | None]:
    """Where a section of plain text is, from its headings: the chapter it starts in (carried from the sections
    before) and the last it reaches (`CHAPTER I. ... - CHAPTER II. ...`); and the heading to carry on."""
    found = headings(text)
    starts_with = found and text.lstrip().startswith(found[0].split()[0])
    first = found[0] if starts_with or carried is None and found else carried
    last = found[-1] if found else carried
    if first is None:
        return None, None
    return (first if last in (None, first) else f"{first} - {last}"), last


def note_prompt(session: Session, text: str) -> str:
    """The prompt for a section's note: the sentences that carry it, then the question (the names it uses, said
    before or after it, were copied back as a list by the 135M model: docs/summaries.md)."""
    return chat_turn(session, f"Sentences from a part of the text, in order:\n{text}\n\n{SECTION_NOTE}")


NOTE_ECHO = ("part of the text", "passage of the text", "in one sentence", "what happens in this passage",
             "who is in it")
NOTE_SAMPLING = Sampling(temperature=0.7, top_p=0.95, no_repeat_ngram=NO_REPEAT)
BOOSTS = (3.0, 5.0)  # drafts nudged towards the section's names: greedy at +3, sampled at +5
BOOSTED_NAMES = 6  # the section's most particular names whose first token a boosted draft raises
NOTE_WORDS = 250  # words of a section the model reads for its note: its carrying sentences (famcli.jobs.extract)
NOTE_TOKENS = 60
NOTE_BATCH = 8  # sections whose notes are decoded in the same steps (3 rows each: within MAX_ROWS)


def write_notes(session: Session, sections: list[Section], seed: int = 0, max_tokens: int = NOTE_TOKENS) -> None:
    """A one-sentence note on each section, written by the plain model from the sentences that carry the section
    (famcli.jobs.extract: about NOTE_WORDS of its words, not the whole section: a book's summary reads a tenth of the
    book through the model). Every section's drafts are decoded in the same steps (famcli.core.branches: one reading
    of the weights serves them all): a greedy note, a greedy one whose logits raise the first token of the
    section's most particular names until each is used (`boost_names`), and a sampled boosted one (a sampled
    one when the section names nobody). The note kept is the best by `score` (greedy first among equals) on the
    section's names weighted by how particular they are to it (`Section.weights`), one that names someone the
    section never mentions last of all; a draft that fails (shorter than a sentence, a line copied from the text
    such as a chapter title, or naming none of the section's names) or stops mid-sentence loses to one that
    does not. When every draft invents a name the section's own most telling sentence is its note
    (`central_sentence`, source "sentence"). The note before is not in the prompt: the 135M model copied it."""
    tok = session.loaded.tokenizer
    requests = []
    for k, section in enumerate(sections):
        section.extract = carrying_sentences(section.text, section.weights, NOTE_WORDS)
        prompt = tok.encode(note_prompt(session, section.extract), add_special_tokens=False)
        requests.append((prompt, note_samplings(session, section, seed + 10 * k)))
    for section, tries in zip(sections, decode_sentences(session, requests, 1, max_tokens)):
        section.note, section.source = choose_note(section, tries)


def note_samplings(session: Session, section: Section, seed: int) -> list[Sampling]:
    """The drafts of a section's note: greedy, greedy boosted towards its names (+3), sampled boosted (+5)."""
    greedy = Sampling(no_repeat_ngram=NO_REPEAT)
    first = boost_names(session, section.weights, section.names)
    sampled = dataclasses.replace(NOTE_SAMPLING, seed=seed + 1)
    if not first:
        return [greedy, sampled]
    return [greedy, dataclasses.replace(greedy, boost=tuple((t, BOOSTS[0]) for t in first)),
            dataclasses.replace(sampled, boost=tuple((t, BOOSTS[1]) for t in first))]


def choose_note(section: Section, tries: list[str]) -> tuple[str, str]:
    """The kept draft and where it comes from ("model", or "sentence" when every draft invents a name)."""
    text, weights = section.text, section.weights
    words = {w for n in section.names for w in n.split()}

    def rank(t: str) -> tuple[bool, bool, float]:  # no name the section lacks; a whole sentence naming its
        fails = _fails(t, text, section)             # people; then the score
        return (not invented_names(t, text), finished(t) and not fails,
                score(t, weights, words, echo=NOTE_ECHO) - 5 * fails)

    best = max([plain_telling(t) for t in tries], key=rank)
    if invented_names(best, text):  # every draft names someone the section never mentions: its own words instead
        return central_sentence(text, weights) or best, "sentence"
    return best, "model"


# "The passage describes a scene where Alice meets the Dodo": what the 135M model says of nearly every section.
# Before a clause the opener says nothing; the clause is the note ("Alice meets the Dodo").
_OPENER = re.compile(r"^(?:in one sentence,\s*)?"
                     r"(?:(?:in|throughout) (?:this|the) (?:passage|text|section|story|excerpt),\s*"
                     r"(?:(?:what happens is that|we see that|we learn that)\s+)?"
                     r"|(?:the|this) (?:passage|text|section|excerpt|story) (?:describes|depicts|presents|shows|"
                     r"portrays|is about|tells of|recounts) (?:a |the )?(?:scene|moment|situation|story|episode|event)s? "
                     r"(?:where|in which|when)\s+"
                     r"|in one sentence,\s*)", re.I)


def plain_telling(note: str) -> str:
    """A note without the opener that only says it is about a passage, when what follows is a clause of its own:
    "In this passage, Alice waits for the Dormouse" -> "Alice waits for the Dormouse". Other notes as they are."""
    m = _OPENER.match(note.strip())
    if not m:
        return note.strip()
    rest = note.strip()[m.end():]
    if len(rest.split()) < 4:
        return note.strip()
    return rest[0].upper() + rest[1:]


def invented_names(note: str, text: str) -> list[str]:
    """The names in a note (capitalised words after a sentence's first) that the text never uses: "Lord
    Curzon" in a note on a section that has no Curzon."""
    return [n for n in names(note) if any(len(w) > 2 and not re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)
                                          for w in n.split())]


def central_sentence(text: str, weights: dict[str, float], shortest: int = 8, longest: int = 45) -> str | None:
    """The sentence of a section that uses most of its particular names (by weight), of a readable length: what
    a note falls back to when the model's would invent someone."""
    from famcli.jobs.answer import split_sentences

    best, best_score = None, 0.0
    for _, sentence in split_sentences(text):
        n = len(sentence.split())
        if not shortest <= n <= longest:
            continue
        value = sum(w for name, w in weights.items() if _uses(sentence, name))
        if value > best_score:
            best, best_score = sentence, value
    return best


def boost_names(session: Session, weights: dict[str, float], counts: Counter, limit: int = BOOSTED_NAMES) -> list[int]:
    """The first tokens (after a space) of the names a note should rather use: the most particular by weight,
    then by use. Raised by a boosted draft until used once, they let the 135M model, which tends to write "the
    passage is a descriptive account of a personal experience", name who is in it; the score still chooses
    (an invented or listed name costs)."""
    ranked = sorted(weights, key=lambda n: -weights[n] * math.sqrt(1 + counts[n]))
    first: list[int] = []
    for name in ranked[:limit]:
        ids = session.loaded.tokenizer.encode(" " + name, add_special_tokens=False)
        if ids and ids[0] not in first:
            first.append(ids[0])
    return first


def note_weights(counts: Counter, seen: Counter) -> dict[str, float]:
    """Each name of a section (`counts`, its uses there) weighted by the share of its uses so far that fall in
    this section (`seen`: the sections before): 1 for a name this section brings in, near 0.2 for one every
    earlier section used too. The hero of every chapter counts less than the one a chapter introduces."""
    return {n: 0.2 + 0.8 * c / (c + seen[n]) for n, c in counts.items()}


def _fails(note: str, text: str, section: Section) -> bool:
    words = note.split()
    copied = any(line.strip() and " ".join(line.split()) == " ".join(words) for line in text.splitlines())
    named = any(_uses(note, n) for n in section.names)
    return len(words) < 6 or copied or not named


SENTENCE_END = re.compile(r"[.!?][\"”’)]*(?=\s)")


def cut_sentences(text: str, n: int) -> str | None:
    """The first n sentences of text, or None while it holds fewer (an abbreviation or initial ends none)."""
    for m in SENTENCE_END.finditer(text):
        word = re.findall(r"[\w.]+$", text[:m.start()])
        if text[m.start()] == "." and word and (word[0] in ABBREVIATIONS or len(word[0]) == 1 and word[0].isupper()):
            continue
        n -= 1
        if n == 0:
            return text[:m.end()].strip()
    return None


MAX_ROWS = 24  # rows decoded in one step: past this a step costs about as much more as the rows it adds


def decode_sentences(session: Session, requests: list[tuple[list[int], list[Sampling]]], n: int,
                     max_tokens: int) -> list[list[str]]:
    """For each request (prompt ids, samplings), what each sampling decodes after the prompt until n sentences
    are written (or a blank line, the end of the turn, or max_tokens): what a note or a part's summary asks
    for, no rambling after it; a draft cut off by max_tokens keeps its whole sentences. The requests are
    decoded together, as many in one call as the buffer and MAX_ROWS allow (famcli.core.branches.decode_prompts)."""
    tok, engine = session.loaded.tokenizer, session.final_reader()

    def done(ids):
        text = tok.decode(ids, skip_special_tokens=True)
        return "\n\n" in text.strip() or cut_sentences(text, n) is not None

    out: list[list[str]] = []
    batch: list[tuple[list[int], list[Sampling]]] = []

    def run() -> None:
        prompts = [p for p, _ in batch]
        rows = [(i, s) for i, (_, samplings) in enumerate(batch) for s in samplings]
        got = iter(decode_prompts(engine, prompts, rows, max_tokens, session.stop_ids(), done))
        for _, samplings in batch:
            out.append([_whole_sentences(" ".join(tok.decode(next(got), skip_special_tokens=True).strip()
                                                  .split("\n\n")[0].split()), n) for _ in samplings])
        batch.clear()

    for prompt, samplings in requests:
        size = lambda b: sum(len(p) + len(s) * max_tokens for p, s in b)  # noqa: E731
        if batch and (size(batch + [(prompt, samplings)]) > engine.buffer_len or
                      sum(len(s) for _, s in batch) + len(samplings) > MAX_ROWS):
            run()
        batch.append((prompt, samplings))
    if batch:
        run()
    return out


def _whole_sentences(text: str, n: int) -> str:
    """The first n sentences; fewer when the text stops inside one (the unfinished one dropped), or all of it
    when it holds no whole sentence."""
    for k in range(n, 0, -1):
        cut = cut_sentences(text + " ", k)
        if cut is not None:
            return cut
    return text


# ----- the summary, part by part ------------------------------------------------------------------------

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


def score(text: str, weights: dict[str, float], source_words: set[str], echo: tuple[str, ...] = ()) -> float:
    """How well a candidate tells its part: the weights of the part's own names it uses, less names found
    nowhere in the part's text (invented), repeated word trigrams, a list of names instead of sentences, and
    the prompt's own words copied back (`echo`), and a sentence left unfinished."""
    found = [n for n in weights if _uses(text, n)]
    covered = sum(weights[n] for n in found)
    invented = [n for n in names(text) if not set(n.split()) & source_words]
    words = re.findall(r"\w+", text.lower())
    trigrams = Counter(zip(words, words[1:], words[2:]))
    repeats = sum(c - 1 for c in trigrams.values() if c > 1)
    name_words = sum(len(n.split()) for n in found)
    listy = bool(words) and name_words / len(words) > 0.5 or text.count(",") > max(4, len(words) // 5)
    empty = len(words) < 6
    echoed = sum(phrase in text.lower() for phrase in echo)
    return covered - len(invented) - 0.5 * repeats - 3 * listy - 5 * empty - 2 * echoed - 2 * (not finished(text))


def finished(text: str) -> bool:
    """Whether text ends a sentence (a draft cut off by the token limit does not): a reader sees a summary
    stop mid-sentence, so an unfinished candidate is kept only when every candidate is unfinished."""
    return re.search(r"[.!?][\"”’)]*$", text.strip()) is not None


def _uses(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def part_names(sections: list[Section]) -> Counter:
    """The names a part is about: those its notes use that its text uses too (a note's invention is not
    one), and the few each of its sections uses most, counted once per note or section."""
    source = Counter()
    for s in sections:
        source.update(s.names)
    counts = Counter(n for s in sections if s.note for n in source if _uses(s.note, n))
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


def part_summary(session: Session, sections: list[Section], weights: dict[str, float], max_tokens: int,
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


def part_plan(session: Session, sections: list[Section], weights: dict[str, float], max_tokens: int,
              sampling: Sampling) -> PartPlan:
    """A part's candidates: a greedy reduction of its notes and one boosted towards its names, a reduction told
    its names with two sampled ones; its two best notes as they are are added when the plan is chosen from."""
    notes = [s.note for s in sections if s.note]
    source_words = {w for s in sections for n in s.names for w in n.split()}
    if not notes:
        return PartPlan([], weights, source_words, [])
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
            ("sampled", dataclasses.replace(PART_SAMPLING, seed=(sampling.seed or 0) + k + 1)) for k in range(SAMPLED)])])


def summarize_planned(session: Session, plans: list[PartPlan], max_tokens: int) -> list[Candidate]:
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
        chosen.append(max(candidates, key=lambda c: (finished(c.text), c.score)))
    return chosen


PART_ECHO = ("notes on consecutive parts", "these notes", "summarize")


def _fitting(session: Session, notes: list[str], weights: dict[str, float], source_words: set[str],
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


def _reductions(session: Session, wanted: list[tuple[list[str], str, list[tuple[str, Sampling]]]],
                max_tokens: int) -> list[list[Candidate]]:
    """For each (notes, instruction, rows), one reduction of the notes per row; every prompt read once and all
    decoded together."""
    tok = session.loaded.tokenizer
    requests = [(tok.encode(_notes_prompt(session, notes, instruction), add_special_tokens=False),
                 [s for _, s in rows]) for notes, instruction, rows in wanted]
    texts = decode_sentences(session, requests, 2, max_tokens)
    return [[Candidate(plain_telling(text), how) for (how, _), text in zip(rows, got)]
            for (_, _, rows), got in zip(wanted, texts)]


def _extract(notes: list[str], weights: dict[str, float], source_words: set[str]) -> str:
    """The part's two best notes as they are, in order, each cut to its first sentence."""
    first = [cut_sentences(n + " ", 1) or n for n in notes]
    ranked = sorted(range(len(first)), key=lambda i: -score(first[i], weights, source_words, PART_ECHO))[:2]
    return " ".join(first[i] for i in sorted(ranked))


def summarize_parts(session: Session, sections: list[Section], max_tokens: int,
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
    out = []
    for part, weights in zip(parts, part_weights(parts)):
        notes = [s.note for s in part if s.note]
        words = {w for s in part for n in s.names for w in n.split()}
        out.append(Candidate(_extract(notes, weights, words) if notes else "", "extract"))
    return out


_FUNCTION_WORDS = {"The", "A", "An", "This", "That", "These", "Those", "In", "On", "At", "It", "He", "She", "They",
                   "His", "Her", "Their", "One", "After", "When", "As", "There"}


def told_in_order(texts: list[str], whole: bool = True) -> str:
    """The parts' summaries as one text: the second and later told with "Then," and, when the whole document was
    read (`whole`), the last with "In the end," (a name keeps its capital; "The" after a comma does not)."""
    texts = [t for t in texts if t]
    out = []
    for i, text in enumerate(texts):
        lead = "" if i == 0 else "In the end, " if whole and i == len(texts) - 1 and len(texts) > 2 else "Then, "
        if lead and text.split()[0] in _FUNCTION_WORDS:
            text = text[0].lower() + text[1:]
        out.append(lead + text if lead else text)
    return " ".join(out)


def summarize_notes(session: Session, notes: list[str], instruction: str, max_tokens: int,
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


def _notes_prompt(session: Session, notes: list[str], instruction: str) -> str:
    numbered = "\n".join(f"{i + 1}. {' '.join(n.split())}" for i, n in enumerate(notes))
    return chat_turn(session, f"Notes on consecutive parts of a document, in order:\n{numbered}\n\n{instruction}")


def _complete_plain(session: Session, prompt: str, max_tokens: int, sampling: Sampling) -> str:
    engine = session.final_reader()
    return session.complete(engine.new_state(), prompt, max_tokens, sampling, engine=engine)
