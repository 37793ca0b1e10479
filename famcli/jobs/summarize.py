"""The summarize command's work as a library function: the document cut into sections as its tokens arrive, each
placed and noted (`SectionNotes`, the notes kept in a `NotesFile` as they come), then the summary of the notes
(famcli.summary.summary) with who and where (famcli.summary.cast) and the outline (famcli.summary.outline).

It takes a ready Session (famcli.jobs.opening.open_session) and returns what the command prints; Ctrl-C or a
signal gives the summary of the notes so far.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from famcli.answer.text import stems
from famcli.common.errors import Interrupted
from famcli.core.generate import Sampling
from famcli.documents.boilerplate import heading
from famcli.documents.registry import DocumentError
from famcli.documents.until import Until
from famcli.jobs.lookup import Reading
from famcli.jobs.reading import count_tokens, document_id, open_reading, payload, pieces_of, placed_pieces
from famcli.jobs.report import UNREAD_NOTE, Reporter, Silent
from famcli.summary.cast import cast, cast_sentence
from famcli.summary.notes import (
    NOTE_BATCH,
    SECTION_MIN,
    TEXT_SECTION_MIN,
    UNREAD,
    Section,
    note_weights,
    section_names,
    section_size,
    text_place,
    write_notes,
)
from famcli.summary.outline import Outline
from famcli.summary.summary import extract_parts, summarize_notes, summarize_parts, summary_parts
from famcli.summary.telling import Rarity, finished, of_lines, text_of_lines
from famcli.summary.told import ending_part, name_words, told_in_order
from famcli.text.sentences import split_sentences

if TYPE_CHECKING:  # annotations only
    from famcli.jobs.session import Session


def summarize_document(session: Session, file: str, password=None, sections: int = 16, max_tokens: int = 200,
                       instruction: str | None = None, seed: int = 0, reporter: Reporter = Silent(),
                       keep_all: bool = False, notes_out: Path | None = None, notes_by: str = "text",
                       until: Until | None = None) -> dict:
    """Notes on sections the model reads whole (full attention), then the summary: by default the notes of
    each part of the document reduced to two sentences, in order (`parts`); with an instruction, the notes
    read whole with it (reduced in rounds when they outgrow the window). Boilerplate (licences, contents,
    running heads) is left out unless keep_all.

    `notes_by`: "text" (each note a sentence of its section, and the summary made of them: no model writes) or
    "model" (the model writes each note and each part's summary; famcli.summary.notes.write_notes says why not).

    `notes_out`: each note is kept there as it is written (JSON lines), and a later run of the same document
    with the same options takes the notes it holds instead of writing them again. Ctrl-C or a signal raises
    Interrupted with the summary of the notes so far (their best notes, no model: `partial`)."""
    t_start = time.perf_counter()
    total = count_tokens(session, file, password, clean=not keep_all, until=until)
    least = TEXT_SECTION_MIN if notes_by == "text" else SECTION_MIN  # a sentence of a paragraph; a model's note
    size = section_size(total, sections, session.loaded.context_window, least)
    header = {"famcli_notes": 1, "document": document_id(file), "section_tokens": size, "keep_all": keep_all,
              "model": session.loaded.name, "notes_by": notes_by, "until": until.text if until else None}
    earlier = NotesFile.open(notes_out, header) if notes_out is not None else None
    doc = open_reading(file, password, until)
    # how particular each word is to a part of the document: counted over the whole of a file before its notes
    # are chosen (telling.central_sentence), over the sections so far for what is read once (stdin, a PDF)
    ahead = total is not None
    rarity = document_rarity(file, password, until, keep_all) if ahead else Rarity()
    outline, chaptered = Outline(rarity), doc.kind in ("epub", "docx")  # their readers name each chapter or section
    notes = SectionNotes(session, size, rarity, ahead, outline if not chaptered else None, earlier, seed, notes_by,
                         reporter)
    try:
        with reporter.reading(total, f"reading {Path(doc.name).name}", size) as notes.progress:
            if chaptered:  # before the boilerplate is taken out: that holds lines back, past the reader's place
                doc.pieces = outline.tap(doc.pieces, doc, clean=not keep_all)
            for ids in session.tokens.stream(notes.texts(doc, not keep_all)):
                notes.feed(ids)
            notes.end()
    except KeyboardInterrupt as stop:
        if not notes.written:
            raise
        noted = notes.written[-1].tokens[1]
        reading = Reading(tokens=noted, seconds=time.perf_counter() - notes.t0, notes=list(doc.notes))
        chosen = extract_parts(notes.written, max_tokens)
        raise Interrupted(_summary_payload(session, reading, t_start, notes.written, chosen, max_tokens,
                                           outline.finish(), partial={"tokens_read": noted, "tokens_total": total}),
                          stop) from None
    finally:
        if earlier is not None:
            earlier.close()
    if not notes.written:
        raise DocumentError(f"{file} holds no words to summarise (only blanks, punctuation or words such as "
                            "\"the\" and \"of\")" if notes.done else f"{file} holds no text")
    for note in doc.notes:  # what the document's reader noticed: a text that is not UTF-8, pages without text
        reporter.note(f"Note: {note}")
    reading = Reading(tokens=notes.done, seconds=time.perf_counter() - notes.t0, notes=list(doc.notes))
    return _summarized(session, reading, t_start, notes.written, outline.finish(), max_tokens, instruction, seed,
                       notes_by, reporter)


def document_rarity(file: str, password, until: Until | None, keep_all: bool) -> Rarity:
    """How particular each word is to a part of a file, counted over the whole of it (one pass over its words,
    no model; famcli.summary.telling.Rarity)."""
    rarity = Rarity()
    for piece in pieces_of(open_reading(file, password, until), not keep_all):
        rarity.add(piece)
    return rarity.close()


class SectionNotes:
    """A summary's sections as the document's tokens arrive: cut every `size` tokens, each placed (its page or
    chapter, else a plain text's own headings), given to `outline` (a plain text's), and noted NOTE_BATCH at a
    time (a note `earlier` holds is taken instead); each note is reported and kept in `earlier` as it is written.
    `rarity` is the whole document's when `ahead`, else each section is added to it as it comes (stdin, a PDF)."""

    def __init__(self, session: Session, size: int, rarity: Rarity, ahead: bool, outline: Outline | None,
                 earlier: NotesFile | None, seed: int, notes_by: str, reporter: Reporter):
        self.session, self.size, self.outline, self.earlier = session, size, outline, earlier
        self.rarity, self.ahead = rarity, ahead
        self.seed, self.notes_by, self.reporter = seed, notes_by, reporter
        self.written: list[Section] = []
        self.pending: list[Section] = []  # sections whose notes are written together
        self.buffer: list[int] = []
        self.done, self.t0, self.seen, self.chapter = 0, time.perf_counter(), Counter(), None
        self.marks: list[tuple[int, str | None]] = []  # (first token, place): where each page or chapter begins
        self.where: str | None = None  # the place of the text last pulled
        self.progress: Callable[[int], None] = lambda n: None

    def texts(self, doc, clean: bool):
        """The document's text, its place kept beside it (the cleaner reads ahead of what it lets through)."""
        for text, place in placed_pieces(doc, clean):
            self.where = None if place is None else f"{place[0]} {place[1]}"
            yield text

    def feed(self, ids: list[int]) -> None:
        if self.where is not None and (not self.marks or self.marks[-1][1] != self.where):
            self.marks.append((self.done + len(self.buffer), self.where))
        self.buffer.extend(ids)
        while len(self.buffer) >= self.size:
            cut = self._line_end(self.buffer[:self.size])
            self._write(self.buffer[:cut])
            self.buffer = self.buffer[cut:]

    def _line_end(self, ids: list[int]) -> int:
        """Where a section ends: in a text of lines (a log), after the last line break in its final quarter, so
        that no line is cut in two (a log's line cut at a token count was a note beginning "7T10:13:36 INFO
        ..."); in prose, before its last sentence that begins after a stop or a blank line (a sentence that
        runs past the end goes whole to the next section), so that its notes are whole sentences (a memo cut at a
        token count gave "In the end, 9 million pounds for ..."); at `size` tokens when there is neither (one long
        line, one long sentence)."""
        decode = self.session.loaded.tokenizer.decode
        text = decode(ids)
        if text_of_lines(text):
            for j in range(len(ids) - 1, len(ids) - 1 - len(ids) // 4, -1):
                if "\n" in decode(ids[j:j + 1]):
                    return j + 1
            return len(ids)
        starts = [at for at, _ in split_sentences(text)[1:]
                  if (finished(text[:at]) or text[:at].rstrip(" \t").endswith("\n\n")) and not _in_heading(text, at)]
        if not starts:
            return len(ids)
        rest = len(text) - len(text[:starts[-1]].rstrip())  # characters after the sentence before it ends
        # the fewest tokens whose text reaches that end: the most tokens from the end whose text is no longer than
        # `rest`, found from the end (the cut is near it) by doubling steps, then halving (a prefix's text would be
        # decoded whole at every step)
        step, hi = 1, len(ids)  # ids[hi:] fits in `rest`
        while hi - step > 0 and len(decode(ids[hi - step:])) <= rest:
            hi, step = hi - step, step * 2
        lo = max(0, hi - step)  # ids[lo:] does not fit (all of them are longer than `rest`)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if len(decode(ids[mid:])) <= rest else (mid, hi)
        return hi

    def end(self) -> None:
        if self.buffer:
            self._write(self.buffer)
        self._flush()

    def _write(self, ids: list[int]) -> None:
        text = self.session.loaded.tokenizer.decode(ids).strip("\ufffd")  # a character the ends cut in two
        if self.outline is not None:
            self.outline.add_text(text)
        first, self.done = self.done, self.done + len(ids)
        if not stems(text):  # only blanks, punctuation or stop words: nothing a note could tell
            self.progress(len(ids))
            return
        counts, hint, who = section_names(text)
        place = _spanned(self.marks, first, self.done)
        if place is None:  # plain text: its own chapter headings, where it has them
            place, self.chapter = text_place(text, self.chapter)
        if not self.ahead:
            self.rarity.add(text).close()
        section = Section((first, self.done), place, counts, hint, text=text, people=who,
                          weights=note_weights(counts, self.seen), known=frozenset(self.seen), rarity=self.rarity)
        self.seen.update(counts)
        at = len(self.written) + len(self.pending)
        kept = self.earlier.note_for(at, section.tokens) if self.earlier is not None else None
        if kept is not None:
            section.note, section.source = kept, "earlier run"
        self.pending.append(section)
        if len(self.pending) >= NOTE_BATCH:
            self._flush()

    def _flush(self) -> None:
        new = [s for s in self.pending if s.source != "earlier run"]
        if new:
            write_notes(self.session, new, self.seed, by=self.notes_by)
        for section in self.pending:
            if self.earlier is not None and section.source != "earlier run":
                self.earlier.add(section.to_dict())
            self.written.append(section)
            self.reporter.note(f"[{_where(section.to_dict())}] {section.note}")
            self.progress(section.tokens[1] - section.tokens[0])
        self.pending.clear()


def _in_heading(text: str, at: int) -> bool:
    """Whether a place falls inside a heading's line ("CHAPTER II. | The Storm"): no section is cut there, or its
    chapter would lose its title."""
    begins, ends = text.rfind("\n", 0, at) + 1, text.find("\n", at)
    return begins < at and heading(text[begins:ends if ends >= 0 else len(text)])


def _summarized(session: Session, reading: Reading, t_start: float, written: list[Section], outline: list[dict],
                max_tokens: int, instruction: str | None, seed: int, notes_by: str, reporter: Reporter) -> dict:
    """The summary of a document's notes: its own notes chosen part by part (text notes, or a script the model
    cannot read), the model's reductions of them (`--notes-by model`), or what an instruction asks of them."""
    sampling = Sampling(seed=seed)
    if 2 * sum(s.source == UNREAD for s in written) > len(written):  # mostly a script the model cannot read
        reporter.note(UNREAD_NOTE)
        return _summary_payload(session, reading, t_start, written, extract_parts(written, max_tokens), max_tokens,
                                outline)
    if notes_by == "text" and not instruction:  # the document's own sentences, chosen: nothing made up
        return _summary_payload(session, reading, t_start, written, extract_parts(written, max_tokens), max_tokens,
                                outline)
    if instruction:
        running = [s.note for s in written]
        summary = summarize_notes(session, running, instruction, max_tokens, sampling)
        return payload("summarize", session, reading, t_start, summary=summary, outline=outline, notes=running,
                       sections=[s.to_dict() for s in written])
    chosen = summarize_parts(session, written, max_tokens, sampling)
    return _summary_payload(session, reading, t_start, written, chosen, max_tokens, outline)


def _summary_payload(session: Session, reading: Reading, t_start: float, written: list[Section], chosen,
                     max_tokens: int, outline: list[dict], partial: dict | None = None) -> dict:
    """The summary: who and where (`cast`), then the parts' summaries told in order, and, for a document read
    to its end, its last section's note when the last part's summary does not hold it ("In the end, ...": how
    it ends). `parts` and `ending` say which sections each sentence comes from (token ranges)."""
    parts = [{"tokens": [written[a].tokens[0], written[b - 1].tokens[1]], "summary": c.text, "from": c.how}
             for (a, b), c in zip(summary_parts(len(written), max_tokens), chosen)]
    extra: dict = {"partial": partial} if partial is not None else {}
    last = ending_part(parts, written[-1]) if partial is None else None
    if last is not None:
        extra["ending"] = last
    people, places = cast(written)
    names = name_words(written)
    texts = [p["summary"] for p in parts + ([last] if last else [])]
    lines = of_lines([s.note for s in written if s.note])  # a log's notes are its lines: shown as lines
    told = "\n".join(t for t in texts if t.strip()) if lines else \
        told_in_order(texts, whole=partial is None, names=names)
    summary = ("\n" if lines else " ").join(t for t in (cast_sentence(people, places), told) if t)
    return payload("summarize", session, reading, t_start, summary=summary, cast={"people": people, "places": places},
                   parts=parts, outline=outline, notes=[s.note for s in written],
                   sections=[s.to_dict() for s in written],
                   **extra)


class NotesFile:
    """`summarize --notes-out FILE`: a header line saying which document, section size and model the notes are
    of, then one JSON line per note, written as it comes. Opened again for the same document and options, its
    notes are taken in order; a file of another document or options, or one famcli did not write, is refused
    before anything is read (never overwritten); a last line a kill cut short is cut off."""

    def __init__(self, path: Path, notes: list[dict]):
        self.path, self.notes = path, notes
        self.sink = path.open("a", encoding="utf-8")

    @classmethod
    def open(cls, path: Path, header: dict) -> "NotesFile":
        from famcli.common.outputs import appended_lines, check_writable, cut_to

        check_writable(path, "notes file")
        if not path.exists() or path.stat().st_size == 0:
            path.write_text(json.dumps(header) + "\n", encoding="utf-8")
            return cls(path, [])
        entries, keep = appended_lines(path)
        first, notes = (entries[0] if entries else None), entries[1:]
        if not isinstance(first, dict) or "famcli_notes" not in first or \
                not all(isinstance(n, dict) and isinstance(n.get("note"), str) for n in notes):
            raise DocumentError(f"{path} is not a famcli notes file: choose another --notes-out")
        if {k: first.get(k) for k in header} != header:
            raise DocumentError(f"{path} holds notes of {first.get('document')} with other options or another model "
                                "(its sections would not match): remove it or choose another --notes-out")
        cut_to(path, keep)
        return cls(path, notes)

    def note_for(self, index: int, tokens: tuple[int, int]) -> str | None:
        """The note an earlier run wrote for this section (the same place in the same document), if any."""
        if index < len(self.notes) and self.notes[index].get("tokens") == list(tokens):
            return self.notes[index]["note"]
        return None

    def add(self, section: dict) -> None:
        self.sink.write(json.dumps(section) + "\n")
        self.sink.flush()

    def close(self) -> None:
        self.sink.close()


def _spanned(marks: list[tuple[int, str | None]], first: int, last: int) -> str | None:
    """The place of tokens [first, last): the page or chapter in effect at its first token, and the last one it
    reaches when that is another ("chapter I - chapter II", as a plain text's headings give it)."""
    at = [place for token, place in marks if token <= first][-1:]
    inside = [place for token, place in marks if first < token < last]
    places = [p for p in at + inside if p is not None]
    if not places:
        return None
    return places[0] if places[-1] == places[0] else f"{places[0]} - {places[-1]}"


def _where(note: dict) -> str:
    a, b = note["tokens"]
    return note["place"] or f"tokens {a:,}-{b:,}"


def numbered_notes(notes: list[dict]) -> list[str]:
    """`--notes`: each note with where it comes from (chapter or page where known, else its token range)."""
    return [f"{i + 1}. [{_where(n)}] {n['note']}" for i, n in enumerate(notes)]
