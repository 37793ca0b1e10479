"""The commands' work as library functions: ask, chat and stream a document, and the batch `Worker` that runs
any command (summarize's own work is famcli.jobs.summarize).

Each takes a ready Session (famcli.jobs.opening.open_session) and returns what the command prints; saved
readings are written when asked, also when the read is stopped with Ctrl-C or a signal.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from famcli.common.errors import Interrupted, Stopped, UserError, is_user_error, one_line
from famcli.core.generate import Sampling
from famcli.documents.registry import DocumentError
from famcli.documents.until import Until
from famcli.jobs.asking import ask
from famcli.jobs.lookup import Reading
from famcli.jobs.opening import open_session
from famcli.jobs.passkey import document_trial
from famcli.jobs.reading import (
    count_tokens,
    document_id,
    load_reading,
    payload,
    read_document,
    save_reading,
    saving_on_stop,
)
from famcli.jobs.report import UNREAD_NOTE, Reporter, Silent
from famcli.jobs.summarize import summarize_document
from famcli.models.prompts import READING_HEADER, question_header
from famcli.summary.notes import Section, note_weights, section_names, write_notes
from famcli.summary.telling import Rarity, lined, telling_line

if TYPE_CHECKING:
    from famcli.jobs.batch import Job
    from famcli.jobs.session import Session


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
    name nothing the text lacks and say what it says, else its own best sentence: famcli.summary.notes)."""
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

    def digest(st, ids: list[int]) -> None:  # a summary's note on the text since the last digest (famcli.summary.notes)
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
    answer = ask(session, state, question, max_tokens, Sampling(seed=seed)).to_dict() if question else \
        {"answer": None, "passages": []}
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
