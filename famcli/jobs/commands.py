"""The commands' work as library functions: summarize, ask, chat and stream a document.

Each takes a ready Session (famcli.jobs.opening.open_session) and returns what the command prints; saved
readings are written when asked, also when the read is stopped with Ctrl-C or a signal.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from famcli.answer.text import stems
from famcli.common.errors import Interrupted, Stopped, UserError, is_user_error, one_line
from famcli.core.generate import Sampling
from famcli.documents.registry import DocumentError, open_document
from famcli.documents.until import Until
from famcli.jobs.asking import UNREAD_NOTE, ask
from famcli.jobs.cast import cast, cast_sentence
from famcli.jobs.lookup import Reading
from famcli.jobs.notes import (
    NOTE_BATCH,
    UNREAD,
    Section,
    note_weights,
    section_names,
    section_size,
    text_place,
    write_notes,
)
from famcli.jobs.opening import open_session
from famcli.jobs.outline import Outline
from famcli.jobs.passkey import document_trial
from famcli.jobs.prompts import READING_HEADER, question_header
from famcli.jobs.reading import (
    count_tokens,
    document_id,
    load_reading,
    open_reading,
    payload,
    pieces_of,
    placed_pieces,
    read_document,
    save_reading,
    saving_on_stop,
)
from famcli.jobs.report import Reporter, Silent
from famcli.jobs.session import Session
from famcli.jobs.summary import (
    ending_part,
    extract_parts,
    summarize_notes,
    summarize_parts,
    summary_parts,
    told_in_order,
)
from famcli.jobs.telling import Rarity, lined, telling_line

if TYPE_CHECKING:
    from famcli.jobs.batch import Job


def summarize_document(session: Session, file: str, password=None, sections: int = 16, max_tokens: int = 200,
                       instruction: str | None = None, seed: int = 0, reporter: Reporter = Silent(),
                       keep_all: bool = False, notes_out: Path | None = None, notes_by: str = "text",
                       until: Until | None = None) -> dict:
    """Notes on sections the model reads whole (full attention), then the summary: by default the notes of
    each part of the document reduced to two sentences, in order (`parts`); with an instruction, the notes
    read whole with it (reduced in rounds when they outgrow the window). Boilerplate (licences, contents,
    running heads) is left out unless keep_all.

    `notes_by`: "text" (each note a sentence of its section, and the summary made of them: no model writes) or
    "model" (the model writes each note and each part's summary; famcli.jobs.notes.write_notes says why not).

    `notes_out`: each note is kept there as it is written (JSON lines), and a later run of the same document
    with the same options takes the notes it holds instead of writing them again. Ctrl-C or a signal raises
    Interrupted with the summary of the notes so far (their best notes, no model: `partial`)."""
    t_start = time.perf_counter()
    total = count_tokens(session, file, password, clean=not keep_all, until=until)
    size = section_size(total, sections, session.loaded.context_window)
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
    reading = Reading(tokens=notes.done, seconds=time.perf_counter() - notes.t0, notes=list(doc.notes))
    return _summarized(session, reading, t_start, notes.written, outline.finish(), max_tokens, instruction, seed,
                       notes_by, reporter)


def document_rarity(file: str, password, until: Until | None, keep_all: bool) -> Rarity:
    """How particular each word is to a part of a file, counted over the whole of it (one pass over its words,
    no model; famcli.jobs.telling.Rarity)."""
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
            self._write(self.buffer[:self.size])
            self.buffer = self.buffer[self.size:]

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
    names = frozenset(w.replace("’", "'") for s in written for n in s.names for w in n.split())
    told = told_in_order([p["summary"] for p in parts + ([last] if last else [])], whole=partial is None, names=names)
    summary = " ".join(t for t in (cast_sentence(people, places), told) if t)
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


def ask_document(session: Session, file: str, question: str, password=None, max_tokens: int = 200,
                 sampling: Sampling = Sampling(), save_state: Path | None = None, load_state: Path | None = None,
                 reporter: Reporter = Silent(), until: Until | None = None) -> dict:
    """On the passages path the document is only tokenised and indexed, and the answer is read from the
    sentences that match the question; on the memory path it is read through the memory first (the question
    before it) and the answer is read after the memory's state (Session.answer_path)."""
    t_start, document = time.perf_counter(), document_id(file)
    if load_state is not None:
        state = _loaded(session, load_state, document, reporter)
        # a reading saved on the passages path read nothing through the model: its index holds the document
        reading = Reading(tokens=state.n_tokens or (state.recall.n_tokens if state.recall is not None else 0))
    else:
        path, why = session.answer_path()
        state = session.new_state(None if save_state or path == "passages" else question)  # passages: no model read
        # a saved reading must serve any question: a generic header (measured: better than none)
        prefix = READING_HEADER if save_state else question_header(question)
        index = None if session.recall is None else session.lookup.new_index(None if save_state else question)
        total = count_tokens(session, file, password, until=until)
        with saving_on_stop(session, state, save_state, reporter, document):
            reading = read_document(session, state, file, password, reporter, prefix=prefix, index=index,
                                    total=total, index_only=index is not None and path == "passages", until=until)
        reporter.note(f"Answering from {'the memory' if path == 'memory' else 'passages'}: {why}.")
    index = state.recall
    t_answer = time.perf_counter()
    answer = ask(session, state, question, max_tokens, sampling)
    if answer.truncated:
        reporter.note(f"Note: the answer was cut at {max_tokens} tokens (--max-tokens gives it more).")
    if answer.unread:
        reporter.note(UNREAD_NOTE)
    extra = answer.to_dict()
    if index is not None:
        extra["recall"] = {**dataclasses.asdict(session.recall), "bytes_per_token": index.bytes_per_token()}
    result = payload("ask", session, reading, t_start, question=question, **extra)
    result["timings"]["answer_seconds"] = round(time.perf_counter() - t_answer, 3)
    return result


def _loaded(session: Session, path: Path, document: str, reporter: Reporter):
    state = load_reading(session, path, document)
    reporter.note(f"Loaded the reading of {state.n_tokens or (state.recall.n_tokens if state.recall else 0):,} "
                  f"tokens from {path}.")
    if session.recall is not None and state.recall is None:
        reporter.note(f"Note: {path} has no recall index (saved with --no-recall); answering from the memory")
    if session.recall is None and state.recall is not None:  # --no-recall: the memory alone, as asked
        if not state.n_tokens:
            raise UserError(f"{path} holds a recall index only (saved on the passages path: its memory read "
                            "nothing), so --no-recall leaves nothing to answer from; leave --no-recall out")
        reporter.note(f"Note: --no-recall: the recall index saved in {path} is not used; answering from the memory")
        state.recall = None
    return state


def check_chat_file(file: str) -> None:
    """chat reads its questions from stdin, so the document cannot come from there too."""
    if file == "-":
        raise DocumentError("chat reads its questions from stdin: give the document as a FILE")


def read_for_chat(session: Session, file: str, password=None, max_tokens: int = 200, save_state: Path | None = None,
                  load_state: Path | None = None, reporter: Reporter = Silent(), until: Until | None = None):
    """The reading a conversation answers from. Ctrl-C while reading keeps what was read; a signal (Stopped)
    ends the run after saving."""
    check_chat_file(file)
    document = document_id(file)
    if load_state is not None:
        state = _loaded(session, load_state, document, reporter)
    else:
        recall, state = session.recall, session.engine.new_state()
        path, why = session.answer_path()
        index = None if recall is None else session.lookup.new_index(keys=recall.scorer != "bm25")
        total = count_tokens(session, file, password, until=until)
        try:
            read_document(session, state, file, password, reporter, prefix=READING_HEADER, index=index, total=total,
                          index_only=index is not None and path == "passages", until=until)
            reporter.note(f"Answering from {'the memory' if path == 'memory' else 'passages'}: {why}.")
        except Stopped:
            save_reading(session, state, save_state, reporter, document)
            raise
        except KeyboardInterrupt:
            reporter.note(f"Stopped reading after {state.n_tokens:,} tokens: answering from what was read.")
            if state.recall is not None:
                state.recall.finish()
        save_reading(session, state, save_state, reporter, document)
    state.extra["document"] = document
    return state


def stream_input(session: Session, pieces_from: str = "-", every: int = 2048, max_tokens: int = 200,
                 question: str | None = None, seed: int = 0, save_state: Path | None = None,
                 load_state: Path | None = None, on_digest: Callable[[dict], None] | None = None,
                 reporter: Reporter = Silent(), notes_by: str = "text") -> dict:
    """Read stdin as it arrives with a digest every `every` tokens; answer `question` at the end of input. A
    digest is a summary's note on the text read since the one before (the sentences that carry it, drafts that
    name nothing the text lacks and say what it says, else its own best sentence: famcli.jobs.notes)."""
    t_start = time.perf_counter()
    state = load_reading(session, load_state, "<stdin>") if load_state else \
        session.new_state(None if save_state else question)
    index = state.recall
    if session.recall is not None and (question or save_state):  # the index grows only when something uses it
        index = index or session.lookup.new_index(None if save_state else question)
    digests: list[dict] = []
    seen: Counter = Counter()
    rarity = Rarity()  # over the digests so far (telling.central_sentence)
    carried = [""]  # the line a digest's token count cut: it opens the next digest's text, whole

    def digest(st, ids: list[int]) -> None:  # a summary's note on the text since the last digest (famcli.jobs.notes)
        text = carried[0] + session.loaded.tokenizer.decode(ids).strip("\ufffd")
        end = text.rfind("\n") + 1  # 0: no line ends here (one long line), and the text goes whole
        text, carried[0] = (text[:end], text[end:]) if end else (text, "")
        counts, hint, who = section_names(text)
        section = Section((st.n_tokens - len(ids), st.n_tokens), None, counts, hint, text=text, people=who,
                          weights=note_weights(counts, seen), known=frozenset(seen), rarity=rarity.add(text).close())
        seen.update(counts)
        write_notes(session, [section], seed, by=notes_by)
        unusual = telling_line(text) if lined(text) else None
        digests.append({"tokens": st.n_tokens, "digest": section.note, "from": section.source, "names": hint,
                        "unusual_line": None if unusual == section.note else unusual})
        if on_digest:
            on_digest(digests[-1])

    prefix = question_header(question) if question and not load_state else ""
    with saving_on_stop(session, state, save_state, reporter):
        reading = read_document(session, state, pieces_from, None, reporter, every, digest, prefix=prefix,
                                index=index)
    answer = ask(session, state.clone() if index is None else state, question, max_tokens,
                 Sampling(seed=seed)).to_dict() if question else {"answer": None, "passages": []}
    return payload("stream", session, reading, t_start, digests=digests, question=question, **answer)


class Worker:
    """One loaded model running a batch Job's command over documents one after another (in a process, a thread
    or a Ray actor; famcli.jobs.batch shares the documents out among workers)."""

    def __init__(self, job: Job, threads: int | None = None):
        import torch

        from famcli.recall.search import RecallOptions

        if threads:
            torch.set_num_threads(threads)
        self.job = job
        recall = None if job.recall is None else RecallOptions(**job.recall)
        # ask and passkey know their question before they read: `--memory auto` keeps what it asks about
        self.session = open_session(job.session, recall, question=job.command in ("ask", "passkey"))

    def run(self, path: str) -> dict:
        """The document's output line; any failure becomes an error line."""
        t0 = time.perf_counter()
        try:
            result = self._run(path)
        except Interrupted as stop:  # a summary stopped part way: its line says so (`run` writes it)
            stop.result = {"file": path, "status": "partial", "error": None, **stop.result}
            raise
        except Exception as exc:  # noqa: BLE001 - one bad document must not end the batch
            kind = "error" if is_user_error(exc) else "internal error"
            return {"file": path, "status": "error", "error": one_line(exc), "error_kind": kind,
                    "seconds": round(time.perf_counter() - t0, 3)}
        return {"file": path, "status": "ok", "error": None, **result}

    def _run(self, path: str) -> dict:
        o, job = self.job.options, self.job
        if job.command == "ask":
            return ask_document(self.session, path, o["question"], o.get("password"), o.get("max_tokens", 200),
                                Sampling(o.get("temperature", 0.0), seed=job.session.seed))
        if job.command == "summarize":
            return summarize_document(self.session, path, o.get("password"), o.get("sections", 16),
                                      o.get("max_tokens", 200), o.get("instruction"), job.session.seed,
                                      keep_all=o.get("keep_all", False), notes_by=o.get("notes_by", "text"))
        if job.command == "passkey":
            return document_trial(self.session, path, o.get("length"), o.get("depth", 0.5), job.session.seed)
        raise UserError(f"unknown batch command {job.command!r}")
