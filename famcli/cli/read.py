"""Commands that read a document and answer from it: summarize, ask, chat, stream."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from famcli.cli.options import (
    ANSWER_TOKENS,
    FileArg,
    JsonOpt,
    LoadOpt,
    MaxTokensOpt,
    PasswordOpt,
    QuestionArg,
    SaveOpt,
    SourcesOpt,
    NotesByOpt,
    SummaryLengthOpt,
    SummaryTokensOpt,
    TempOpt,
    UntilOpt,
    Ui,
    checked_question,
    emit,
    grouped,
    printable,
    recall_options,
    session_options,
    summary_tokens,
    ui_options,
)
from famcli.common.errors import UserError
from famcli.common.outputs import check_writable

Recall = Optional[object]  # famcli.recall.search.RecallOptions, or None with --no-recall


@grouped(options=session_options, ui=ui_options)
def summarize(
    file: FileArg, options: object, ui: Ui, as_json: JsonOpt = False, password: PasswordOpt = None,
    max_tokens: SummaryTokensOpt = None, length: SummaryLengthOpt = "medium",
    instruction: Annotated[Optional[str], typer.Option(
        "--instruction", help="What the summary should be, written from all the notes at once (default: two "
                              "sentences on each part of the document, in order).")] = None,
    notes: Annotated[bool, typer.Option("--notes", help="Also print the running notes.")] = False,
    outline: Annotated[bool, typer.Option("--outline", help="Also print each chapter's title and a sentence of "
                                          "its own (--json always has them).")] = False,
    sections: Annotated[int, typer.Option("--sections", min=1, max=200, help="Notes over the document (sections "
                                          "of 1,000-3,000 tokens: a long book gets more).")] = 16,
    keep_all: Annotated[bool, typer.Option("--keep-all", help="Also read boilerplate: Gutenberg licences, tables "
                                           "of contents, PDF running headers and page numbers.")] = False,
    notes_by: NotesByOpt = "text", until: UntilOpt = None,
    notes_out: Annotated[Optional[Path], typer.Option("--notes-out", help="Keep each note in this file as it is "
                         "written (JSON lines); run again with it to take up where an interrupted run stopped.")] = None,
):
    """Summarize a whole document: a note on each section from the sentences that carry it, then a summary of the notes."""
    from famcli.common.errors import Interrupted
    from famcli.jobs.summarize import summarize_document
    from famcli.jobs.opening import open_session

    max_tokens = summary_tokens(length, max_tokens)
    check_writable(notes_out, "notes file")
    session = open_session(options, reporter=ui)
    try:
        result = summarize_document(session, file, password, sections, max_tokens, instruction, options.seed, ui,
                                    keep_all, notes_out, notes_by, until)
    except Interrupted as stopped:  # what was read is not lost: the notes so far and their summary, marked partial
        result, part = stopped.result, stopped.result["partial"]
        total = f"{part['tokens_total']:,}" if part["tokens_total"] else "?"
        ui.note(f"Stopped after {part['tokens_read']:,} of {total} tokens: the summary below "
                "is of the notes so far (their best notes, partial)"
                + (f"; {notes_out} keeps them for the next run" if notes_out else "") + ".")
        _print_summary(result, notes, outline, as_json)
        raise stopped.cause from None
    _print_summary(result, notes, outline, as_json)


def _print_summary(result: dict, notes: bool, outline: bool, as_json: bool) -> None:
    from famcli.jobs.summarize import numbered_notes

    shown = []
    if notes:
        shown += ["Notes:", *numbered_notes(result["sections"]), ""]
    if outline:
        chapters = result.get("outline") or []
        shown += ["Outline:", *(f"{c['chapter']}: {c['line']}" for c in chapters)] if chapters else \
            ["Outline: the document has no chapters famcli can find."]
        shown += [""]
    text = "\n".join([*shown, "Summary:", result["summary"]]) if shown else result["summary"]
    emit(as_json, result, text)


@grouped(options=session_options, recall=recall_options, ui=ui_options)
def ask(
    file: FileArg, question: QuestionArg, options: object, recall: Recall, ui: Ui, as_json: JsonOpt = False,
    password: PasswordOpt = None, max_tokens: MaxTokensOpt = ANSWER_TOKENS, temperature: TempOpt = 0.0,
    save_state: SaveOpt = None, load_state: LoadOpt = None, sources: SourcesOpt = False, until: UntilOpt = None,
):
    """Answer a question about a document from the sentences that match it (the document is indexed, not read
    through the model, unless the memory path is used: --answer-from)."""
    from famcli.core.generate import Sampling
    from famcli.jobs.asking import ask_document
    from famcli.jobs.opening import open_session

    check_writable(save_state, "state file")
    check_until(until, load_state)
    session = open_session(options, recall, ui, question=save_state is None and load_state is None)
    result = ask_document(session, file, question, password, max_tokens, Sampling(temperature, seed=options.seed),
                          save_state, load_state, ui, until)
    emit(as_json, result, with_sources(result["answer"], result["passages"], sources))


def check_until(until, load_state) -> None:
    if until is not None and load_state is not None:
        raise UserError("--until cuts a reading, and a saved reading (--load-state) holds what it read: read the "
                        "document again with --until")


def with_sources(answer: str, passages: list[dict], sources: bool) -> str:
    """The answer, followed with --sources by one line per passage it was read from (or by a line saying it was
    read from none: a "Not found", the file's metadata; an empty "Sources:" left the reader guessing)."""
    from famcli.recall.text import source_line

    if not sources:
        return answer
    if not passages:
        return answer + "\n\nSources: none (no passage of the document was read for this answer)."
    return answer + "\n\nSources:\n" + "\n".join(source_line(p) for p in passages)


@grouped(options=session_options, recall=recall_options, ui=ui_options)
def chat(
    file: Annotated[str, typer.Argument(help="The document: text, Markdown, log, PDF, EPUB, DOCX, HTML or "
                                             "compressed text.")],
    options: object, recall: Recall, ui: Ui, as_json: JsonOpt = False, password: PasswordOpt = None,
    max_tokens: MaxTokensOpt = ANSWER_TOKENS, temperature: TempOpt = 0.0, save_state: SaveOpt = None,
    load_state: LoadOpt = None,
    history: Annotated[Optional[Path], typer.Option("--history", help="Keep the prompt's history in this file.")] = None,
    until: UntilOpt = None,
):
    """Read a document once, then answer question after question from that reading: an interactive prompt
    in a terminal, one answer per question line through a pipe (--json: one object per line)."""
    from famcli.core.generate import Sampling
    from famcli.chat.conversation import Conversation, lines, repl
    from famcli.jobs.commands import check_chat_file, read_for_chat
    from famcli.jobs.opening import open_session

    check_writable(save_state, "state file")
    check_writable(history, "history file")
    check_chat_file(file)  # before the model loads
    check_until(until, load_state)
    if sys.stdin is None:
        raise UserError("stdin is closed: chat reads its questions from the terminal or a pipe")
    session = open_session(options, recall, ui)
    state = read_for_chat(session, file, password, max_tokens, save_state, load_state, ui, until)
    conversation = Conversation(session, state, max_tokens, Sampling(temperature, seed=options.seed),
                                session.identity)
    if sys.stdin.isatty():
        repl(conversation, history, _write, _stream)
    else:
        lines(conversation, sys.stdin.buffer, _write, as_json)


def _show_digest(digest: dict) -> None:
    _write(f"[{digest['tokens']:,} tokens] {digest['digest']}" +
           (f"\n  most unusual line: {digest['unusual_line']}" if digest["unusual_line"] else ""))


def _write(text: str) -> None:
    typer.echo(printable(text))
    sys.stdout.flush()


def _stream(text: str) -> None:
    sys.stdout.write(printable(text))
    sys.stdout.flush()


@grouped(options=session_options, recall=recall_options, ui=ui_options)
def stream(
    options: object, recall: Recall, ui: Ui, as_json: JsonOpt = False, max_tokens: MaxTokensOpt = ANSWER_TOKENS,
    save_state: SaveOpt = None, load_state: LoadOpt = None, sources: SourcesOpt = False,
    every: Annotated[int, typer.Option("--every", min=1, help="Print a digest every N tokens read.")] = 2048,
    question: Annotated[Optional[str], typer.Option("--question", help="Answer this at end of input.",
                                                    callback=checked_question)] = None,
    notes_by: NotesByOpt = "text",
):
    """Read stdin as it arrives (e.g. `tail -f app.log | famcli stream`), printing a digest every N tokens."""
    from famcli.jobs.commands import stream_input
    from famcli.jobs.opening import open_session

    check_writable(save_state, "state file")
    if sys.stdin is None:
        raise UserError("stdin is closed: pipe the text into famcli stream")
    known = question is not None and load_state is None and save_state is None  # the question before the read
    session = open_session(options, recall, ui, question=known)
    shown = None if as_json else _show_digest
    result = stream_input(session, "-", every, max_tokens, question, options.seed, save_state, load_state, shown, ui,
                          notes_by)
    if as_json:
        emit(True, result, "")
    elif result["answer"] is not None:
        typer.echo(printable(with_sources(result["answer"], result["passages"], sources)))
