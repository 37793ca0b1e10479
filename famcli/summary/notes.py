"""A note on each section of a document, for its summary (famcli.summary.summary): where the section is, the names
it uses, the sentences that carry it (famcli.summary.extract), and the one sentence the plain model writes on them.

The drafts of many sections are decoded in the same steps (famcli.core.branches.decode_prompts); a draft is
chosen by `score` (the section's particular names it uses, less inventions, repeats and echoes of the prompt),
and one that names someone the section never mentions is never kept (docs/summaries.md).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from famcli.core.branches import decode_prompts
from famcli.core.generate import Sampling
from famcli.documents.boilerplate import headings
from famcli.models.prompts import NO_REPEAT, chat_turn
from famcli.summary.extract import carrying_sentences
from famcli.summary.support import Source, plain_titles, support
from famcli.summary.telling import Rarity, central_sentence, finished, telling_line
from famcli.text.names import ABBREVIATIONS, names, people, salient, uses_name
from famcli.text.sentences import split_sentences


class Writer(Protocol):
    """What the model's notes and summaries need of a reading (famcli.jobs.session.Session has it): the loaded
    model (its tokenizer and window), its token rules, the engine that reads last, and the tokens that stop."""

    loaded: Any
    tokens: Any

    def final_reader(self) -> Any: ...

    def stop_ids(self) -> list[int]: ...


SECTION_MIN, SECTION_MAX = 1000, 3000  # tokens a section note is written from: read whole, with full attention
# tokens: the least section whose note is its own sentence (the default, --notes-by text), about a paragraph, so
# that a short document (a memo, a letter, an article) is told a sentence per paragraph or two, not in one sentence
TEXT_SECTION_MIN = 120
SECTION_NOTE = "In one sentence: what happens in this passage, and who is in it?"
HINT_NAMES = 4  # names a section's note is told about


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
    extract: str = field(default="", repr=False)  # the sentences the note was written from (famcli.summary.extract)
    known: frozenset = field(default=frozenset(), repr=False)  # the names the document used before this section
    people: list[str] = field(default_factory=list, repr=False)  # those of its names that speak or act in it
    drafts: list[str] = field(default_factory=list, repr=False)  # what the model wrote, the note chosen among them
    rarity: Rarity | None = field(default=None, repr=False)  # how particular each word is to a part of the document

    def to_dict(self) -> dict:
        """In --json: where, which names, the note and where it comes from, and what it was made from: the
        sentences the model read (`read`) and each draft it wrote (`drafts`), so a reader can check a note."""
        return {"tokens": list(self.tokens), "place": self.place, "names": self.hint, "note": self.note,
                "from": self.source, "read": self.extract, "drafts": self.drafts}


def section_size(total_tokens: int | None, sections: int = 16, window: int = 8192, least: int = SECTION_MIN) -> int:
    """Tokens per section: about `sections` over a known length, `least` at the least (SECTION_MIN: what the
    model writes a note on; TEXT_SECTION_MIN: a note that is the section's own sentence), within what the model
    reads well at once (and half its window at most, leaving room for the prompt and the note)."""
    cap = min(SECTION_MAX, window // 2)
    if not total_tokens:
        return cap
    return min(cap, max(least, -(-total_tokens // sections)))


def section_names(text: str, limit: int = HINT_NAMES) -> tuple[Counter, list[str], list[str]]:
    """A section's names with their counts, the few it is most about (people first), and those of its most
    used names that speak or act in it (famcli.text.names.people)."""
    counts = names(text)
    candidates = salient(text, limit=2 * limit)
    who = people(text, candidates)
    return counts, (who + [c for c in candidates if c not in who])[:limit], who


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


def note_prompt(session: Writer, text: str) -> str:
    """The prompt for a section's note: the sentences that carry it, then the question (the names it uses, said
    before or after it, were copied back as a list by the 135M model: docs/summaries.md)."""
    instruction = f"Sentences from a part of the text, in order:\n{text}\n\n{SECTION_NOTE}"
    return chat_turn(session.loaded.tokenizer, instruction)


NOTE_ECHO = ("part of the text", "passage of the text", "in one sentence", "what happens in this passage",
             "who is in it")
NOTE_SAMPLING = Sampling(temperature=0.7, top_p=0.95, no_repeat_ngram=NO_REPEAT)
BOOSTS = (3.0, 5.0)  # drafts nudged towards the section's names: greedy at +3, sampled at +5
BOOSTED_NAMES = 6  # the section's most particular names whose first token a boosted draft raises
NOTE_WORDS = 250  # words of a section the model reads for its note: its carrying sentences (famcli.summary.extract)
NOTE_TOKENS = 60
UNREAD = "unread script"  # the source of a note that is the section's own sentence: the model cannot read it
NOTE_BATCH = 8  # sections whose notes are decoded in the same steps (3 rows each: within MAX_ROWS)


def write_notes(session: Writer, sections: list[Section], seed: int = 0, max_tokens: int = NOTE_TOKENS,
                by: str = "text") -> None:
    """A one-sentence note on each section, written by the plain model from the sentences that carry the section
    (famcli.summary.extract: about NOTE_WORDS of its words, not the whole section: a book's summary reads a tenth of the
    book through the model). Every section's drafts are decoded in the same steps (famcli.core.branches: one reading
    of the weights serves them all): a greedy note, a greedy one whose logits raise the first token of the
    section's most particular names until each is used (`boost_names`), and a sampled boosted one (a sampled
    one when the section names nobody). The note kept is the best by `score` (greedy first among equals) on the
    section's names weighted by how particular they are to it (`Section.weights`), one that names someone the
    section never mentions last of all; a draft that fails (shorter than a sentence, a line copied from the text
    such as a chapter title, or naming none of the section's names) or stops mid-sentence loses to one that
    does not. When every draft invents a name the section's own most telling sentence is its note
    (`central_sentence`, source "sentence"). The note before is not in the prompt: the 135M model copied it.

    That is `by="model"`. By default (`by="text"`) every note is the section's own sentence, and the model writes
    nothing: people reading 200 drafts against the sentences the model read found 185 saying something those
    sentences do not, and no check (names, shared words, the model's own yes/no, its likelihood with and without
    the text) told the 15 right ones from the rest (docs/summaries.md, "What the model's notes say")."""
    tok, buffer_len = session.loaded.tokenizer, session.final_reader().buffer_len
    readable = []
    for section in sections:
        if by == "model" and session.tokens.reads(section.text):
            readable.append(section)
        else:  # its own sentence: by default, and for a script the model cannot read (famcli.models.tokens)
            section.extract = carrying_sentences(section.text, section.weights, NOTE_WORDS)
            section.note = own_sentence(section)
            section.source = "sentence" if session.tokens.reads(section.text) else UNREAD
    sections, requests = readable, []
    for k, section in enumerate(sections):
        section.extract = carrying_sentences(section.text, section.weights, NOTE_WORDS)
        samplings = note_samplings(session, section, seed + 10 * k)
        prompt = tok.encode(note_prompt(session, section.extract), add_special_tokens=False)
        room = buffer_len - len(samplings) * max_tokens - len(prompt)
        if room < 0:  # NOTE_WORDS words can be any number of tokens (a line of thousands of characters, no spaces)
            ids = tok.encode(section.extract, add_special_tokens=False)
            section.extract = tok.decode(ids[:max(1, len(ids) + room - 16)])  # 16: a re-encoding may differ a little
            prompt = tok.encode(note_prompt(session, section.extract), add_special_tokens=False)
        requests.append((prompt, samplings))
    for section, tries in zip(sections, decode_sentences(session, requests, 1, max_tokens)):
        section.drafts = list(dict.fromkeys(plain_telling(t) for t in tries))
        section.note, section.source = choose_note(section, tries)


def own_sentence(section: Section) -> str:
    """A section's note in its own words: its most telling sentence (`central_sentence`; of any length, its lines
    joined, when none is of a readable length), a text of lines' most unusual line, else its first whole sentence
    (the first of all is cut wherever the section began)."""
    spans = split_sentences(section.text)
    told = [s for _, s in spans]
    whole = [s for s in told[1:] if finished(s)] or told or [section.text.strip()[:300]]
    body = section.text  # without the end of a sentence the section's first token cut into
    if len(spans) > 1 and section.text.lstrip()[:1].islower():
        body = section.text[spans[1][0]:]
    # prose whose sentences are all long, or wrapped in lines that are not all alike (a first line run on past the
    # others): told by the most central of its sentences, its line breaks spaces, not by one of its lines
    # (telling_line is for a text of lines: a log)
    chosen = central_sentence(body, section.rarity) or \
        central_sentence(" ".join(body.split()), section.rarity, longest=10**6) or telling_line(section.text) or \
        whole[0]
    told_body = [s for _, s in split_sentences(body)]
    at = told_body.index(chosen) if chosen in told_body else -1
    # "said Alice; ...", "I shall be late!’ said the Rabbit": the sentences before it open its quotation
    for _ in range(3):
        if at <= 0 or not (chosen[:1].islower() or _unopened(chosen)):
            break
        at -= 1
        chosen = told_body[at] + " " + chosen
    return chosen


def _unopened(text: str) -> bool:
    """Whether a text closes more quotations than it opens (a closing mark after ! ? . , or a dash; an
    apostrophe inside a word is none)."""
    opened = text.count("“") + text.count("‘")
    closed = len(re.findall(r"(?<=[!?.,;:—-])[”’]", text))
    return closed > opened


def note_samplings(session: Writer, section: Section, seed: int) -> list[Sampling]:
    """The drafts of a section's note: greedy, greedy boosted towards its names (+3), sampled boosted (+5)."""
    greedy = Sampling(no_repeat_ngram=NO_REPEAT)
    first = boost_names(session, section.weights, section.names)
    sampled = dataclasses.replace(NOTE_SAMPLING, seed=seed + 1)
    if not first:
        return [greedy, sampled]
    return [greedy, dataclasses.replace(greedy, boost=tuple((t, BOOSTS[0]) for t in first)),
            dataclasses.replace(sampled, boost=tuple((t, BOOSTS[1]) for t in first))]


SUPPORTED = 0.6  # share of a draft's content words found near its names in the section (famcli.summary.support)


def choose_note(section: Section, tries: list[str]) -> tuple[str, str]:
    """The kept draft and where it comes from ("model", or "sentence" when every draft invents a name, says
    little its section says, or stops mid-sentence and the section has a told sentence to give instead)."""
    text, weights = section.text, section.weights
    words = {w for n in section.names for w in n.split()}
    source = Source(text)

    def rank(t: str) -> tuple[bool, bool, bool, float]:  # no name the section lacks; most of its words the
        fails = _fails(t, text, section)                 # section's; a whole sentence naming its people; the score
        return (not invented_names(t, source, section.known), support(t, source).share >= SUPPORTED,
                finished(t) and not fails, score(t, weights, words, echo=NOTE_ECHO) - 5 * fails)

    best = max([plain_telling(t) for t in tries], key=rank)
    own = None
    if not all(rank(best)[:2]):  # every draft invents someone or says what the section does not: its own words
        own = central_sentence(text, section.rarity) or telling_line(text)
    elif not finished(best):  # every draft stopped mid-sentence ("... and who is in it:"): its own told sentence
        own = central_sentence(text, section.rarity)
    if own is not None:
        return own, "sentence"
    return best, "model"


# "The passage describes a scene where Alice meets the Dodo": what the 135M model says of nearly every section.
# Before a clause the opener says nothing; the clause is the note ("Alice meets the Dodo").
_OPENER = re.compile(r"^(?:in one sentence[,:]\s*)?"
                     r"(?:(?:in|throughout) (?:this|the) (?:passage|text|section|story|excerpt),\s*"
                     r"(?:(?:what happens is that|we see that|we learn that)\s+)?"
                     r"|(?:the|this) (?:passage|text|section|excerpt|story) (?:describes|depicts|presents|shows|"
                     r"portrays|is about|tells of|recounts) (?:a |the )?"
                     r"(?:scene|moment|situation|story|episode|event)s? "
                     r"(?:where|in which|when)\s+"
                     r"|in one sentence[,:]\s*)", re.I)


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


def invented_names(note: str, text: str | Source, known: frozenset = frozenset()) -> list[str]:
    """The names in a note (capitalised runs after a sentence's first) that the text never uses as a whole, and
    that are not among the names the document used before (`known`): "Lord Curzon" in a note on a section
    that has no Curzon, and "Jane Darcy" on one that has Jane and Darcy but nobody of that name."""
    source = text if isinstance(text, Source) else Source(text)
    return [n for n in names(note) if not source.has_name(n) and n not in known and plain_titles(n) not in known]


def boost_names(session: Writer, weights: dict[str, float], counts: Counter, limit: int = BOOSTED_NAMES) -> list[int]:
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
    named = any(uses_name(note, n) for n in section.names)
    return len(words) < 6 or copied or not named


SENTENCE_END = re.compile(r"[.!?][\"”’)]*(?=\s)|[。！？][」』）]*")  # full-width stops need no space after them


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


def decode_sentences(session: Writer, requests: list[tuple[list[int], list[Sampling]]], n: int,
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


def score(text: str, weights: dict[str, float], source_words: set[str], echo: tuple[str, ...] = ()) -> float:
    """How well a candidate tells its part: the weights of the part's own names it uses, less names found
    nowhere in the part's text (invented), repeated word trigrams, a list of names instead of sentences, and
    the prompt's own words copied back (`echo`), and a sentence left unfinished."""
    found = [n for n in weights if uses_name(text, n)]
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
