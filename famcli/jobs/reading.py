"""Reading a document for a command: the read with progress, saved readings, the payloads.

What `summarize`, `ask`, `chat` and `stream` share, as library functions the thin CLI commands call.
The library never prints: progress and notes go to a `Reporter` the caller gives (the CLI's goes to
stderr; `Silent` says nothing).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from famcli.common.errors import UserError
from famcli.core.engine import ContextOverflow
from famcli.documents.base import Document
from famcli.documents.registry import DocumentError, is_stream, open_document
from famcli.documents.until import Until
from famcli.jobs.lookup import Reading
from famcli.jobs.report import Reporter, Silent

if TYPE_CHECKING:  # annotations only
    from famcli.jobs.session import Session


def open_reading(path: str, password=None, until: Until | None = None) -> Document:
    """The document, cut where `until` says (famcli.documents.until: nothing after it is read)."""
    doc = open_document(path, password)
    if until is not None:
        doc.pieces = until.cut(doc, lambda: sum(map(len, open_document(path, password).pieces)))
    return doc


def count_tokens(session: Session, path: str, password=None, clean: bool = False,
                 until: Until | None = None) -> int | None:
    """Token total for progress and ETA (a cheap tiktoken pass, which also finds a damaged file before the
    read starts, and a chapter `until` names that the document lacks); PDFs and stdin have none. `clean`: without
    the boilerplate (famcli.documents.boilerplate)."""
    if is_stream(path):  # read once, as it arrives: not opened to be counted
        return None
    doc = open_reading(path, password, until)
    return session.tokens.count_all(pieces_of(doc, clean)) if doc.countable else None


def pieces_of(doc, clean: bool):
    from famcli.documents.boilerplate import clean as without_boilerplate

    return without_boilerplate(doc.pieces, doc.kind) if clean else doc.pieces


PLACE_LOOKAHEAD = 4096  # lines of the reader a cleaned line is looked for among (the cleaner holds back ~60k chars)


def placed_pieces(doc, clean: bool) -> Iterator[tuple[str, tuple | None]]:
    """The document's pieces (without boilerplate when `clean`), each with the place the reader gave it (`doc.place`
    when the reader yielded it: a PDF page, an EPUB chapter). The cleaner reads ahead of what it lets through (the
    Gutenberg header is searched for in the first 60k characters, running heads learned from the first 12 pages),
    so the reader's place when a cleaned piece comes out is ahead of it; here the place travels with the text. A
    PDF page comes out of the cleaner as one page; a text's lines come out as a subsequence of its lines, each
    matched to the first line of the reader's that is the same."""
    from famcli.documents.boilerplate import clean as without_boilerplate

    pulled: collections.deque = collections.deque()
    pages = doc.kind == "pdf"

    def tapped() -> Iterator[str]:  # a text's whole lines, as the cleaner cuts them (at "\n" only)
        carry = ""
        for piece in doc.pieces:
            if pages:
                pulled.append((piece, doc.place))
                yield piece
                continue
            *lines, carry = (carry + piece).split("\n")
            for line in lines:
                pulled.append((line + "\n", doc.place))
                yield line + "\n"
        if carry:
            pulled.append((carry, doc.place))
            yield carry

    if not clean:
        for piece in tapped():
            yield piece, pulled.popleft()[1]
        return
    last = None
    for out in without_boilerplate(tapped(), doc.kind):
        if pages:
            last = pulled.popleft()[1] if pulled else last
        else:
            at = next((i for i, (line, _) in enumerate(itertools.islice(pulled, PLACE_LOOKAHEAD)) if line == out),
                      None)
            if at is not None:
                for _ in range(at):
                    pulled.popleft()
                last = pulled.popleft()[1]
        yield out, last


def check_fits(session: Session, total: int | None) -> None:
    window = session.engine.max_tokens
    if window is not None and total and total > window:
        raise ContextOverflow(f"the document has {total:,} tokens, more than the model's context window of "
                              f"{window:,}; mode {session.config.mode} cannot read it (use --memory fam)")


def read_document(session: Session, state, path: str, password=None, reporter: Reporter = Silent(), every=None,
                  on_section=None, prefix: str = "", total: int | None = None, index=None,
                  index_only: bool = False, clean: bool = False, until: Until | None = None) -> Reading:
    """Read FILE (or stdin) into the state; on Ctrl-C the caller decides what to keep. With a recall index,
    the prefix is read first and the index sees the document alone (it stays on `state.recall`);
    `index_only` fills the index's token ids without the model (the passages path: famcli.jobs.session.Session.answer_path);
    `clean` leaves out boilerplate (Gutenberg licences, contents, PDF running heads: famcli.documents.boilerplate)."""
    total = total if total is not None else count_tokens(session, path, password, until=until)
    check_fits(session, total + len(session.tokens.encode(prefix)) if total else None)
    doc = open_reading(path, password, until)
    if index_only:
        reading = session.lookup.index_text(index, _marking_places(doc, index))
        state.recall, index.front = index, doc.front
        _noted(reading, doc, reporter)
        reporter.note(f"Indexed {reading.tokens:,} tokens in {reading.seconds:.1f} s.")
        return reading
    read_before = 0
    if index is not None:
        read_before = session.read_text(state, [prefix]).tokens if prefix else 0
        state.recall, prefix = index, ""
    pieces = _marking_places(doc, index) if index is not None else pieces_of(doc, clean)
    pieces = itertools.chain([prefix], pieces) if prefix else pieces
    with reporter.reading(total, f"reading {Path(doc.name).name}", session.config.block_size) as progress:
        reading = session.read_text(state, pieces, progress, every, on_section)
    reading.tokens += read_before
    if index is not None:
        index.finish()
        index.front = doc.front
    _noted(reading, doc, reporter)
    if reading.tokens == 0:
        raise DocumentError(f"{path} holds no text")
    reporter.note(f"Read {reading.tokens:,} tokens in {reading.seconds:.1f} s "
                  f"({reading.tokens_per_second:,.0f} tokens/s).")
    return reading


def _noted(reading: Reading, doc, reporter: Reporter) -> None:
    """What the document's reader noticed (pages without text, a text that is not UTF-8): shown, and kept for
    `--json` (`reader_notes`)."""
    reading.notes.extend(doc.notes)
    for note in doc.notes:
        reporter.note(f"Note: {note}")


def _marking_places(doc, index):
    """The document's pieces; where each PDF page or EPUB chapter starts is noted in the index as the piece is
    pulled (pieces end in a newline, so the tokens of the one before have all been read by then)."""
    for piece in doc.pieces:
        if doc.place is not None:
            index.mark_place(*doc.place)
        yield piece


def document_id(path: str) -> str:
    """What a saved reading remembers of its document: the name and size (stdin has neither)."""
    if path == "-":
        return "<stdin>"
    p = Path(path)
    return f"{p.name}:{p.stat().st_size}" if p.is_file() else p.name


def load_reading(session: Session, path: Path, document: str):
    """A saved reading, refused when it was made from another document, model or memory."""
    if not path.is_file():
        raise DocumentError(f"no such state file: {path}")
    state = session.engine.load_state(path, session.identity)
    saved = state.extra.get("document")
    if saved and document != "<stdin>" and saved != document:
        raise DocumentError(f"{path} holds a reading of {saved}, not of {document}")
    return state


def loaded_reading(session: Session, path: Path, document: str, reporter: Reporter):
    """A saved reading for a question (`load_reading`), with what the user should know about its recall index:
    none saved, or one that --no-recall leaves unused."""
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


def save_reading(session: Session, state, path: Path | None, reporter: Reporter, document: str | None = None) -> None:
    if path is None:
        return
    state.extra.update({"document": document} if document else {})
    index = state.recall
    if index is not None:
        index.finish()
    session.engine.save_state(state, path, session.identity, recall=index)
    read = state.n_tokens or (index.n_tokens if index is not None else 0)
    reporter.note(f"Saved the reading ({read:,} tokens) to {path}.")


@contextlib.contextmanager
def saving_on_stop(session: Session, state, path: Path | None, reporter: Reporter, document: str | None = None):
    """Save what was read when the block ends, also when it ends with Ctrl-C or a signal."""
    try:
        yield
    except KeyboardInterrupt:
        save_reading(session, state, path, reporter, document)
        raise
    save_reading(session, state, path, reporter, document)


def payload(command: str, session: Session, reading: Reading, t_start: float, **result) -> dict:
    """A command's --json object: its result, what the read did, the memory and the model."""
    return {"command": command, **result, "tokens_read": reading.tokens,
            "timings": {"read_seconds": round(reading.seconds, 3),
                        "total_seconds": round(time.perf_counter() - t_start, 3),
                        "tokens_per_second": round(reading.tokens_per_second, 1)},
            "memory": session.config.to_dict(), "model": session.loaded.name, "reader_notes": reading.notes}
