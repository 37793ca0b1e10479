"""The commands' work as library functions: ask, chat and stream a document (summarize's own work is
famcli.jobs.summarize; the batch worker that runs any of them is famcli.batch.worker).

Each takes a ready Session (famcli.jobs.opening.open_session) and returns what the command prints; saved
readings are written when asked, also when the read is stopped with Ctrl-C or a signal.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from famcli.common.errors import Stopped
from famcli.core.generate import Sampling
from famcli.documents.registry import DocumentError
from famcli.documents.until import Until
from famcli.jobs.asking import ask
from famcli.jobs.reading import (
    count_tokens,
    document_id,
    load_reading,
    loaded_reading,
    payload,
    read_document,
    save_reading,
    saving_on_stop,
)
from famcli.jobs.report import Reporter, Silent
from famcli.models.prompts import READING_HEADER, question_header
from famcli.summary.notes import Section, note_weights, section_names, write_notes
from famcli.summary.telling import Rarity, lined, telling_line, text_of_lines

if TYPE_CHECKING:
    from famcli.jobs.session import Session


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
        state = loaded_reading(session, load_state, document, reporter)
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
        unusual = telling_line(text) if lined(text) and text_of_lines(text) else None  # a log's, not prose's
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
