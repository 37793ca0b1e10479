"""`famcli batch ask | summarize | passkey`: one job over many documents, locally or on Ray (famcli.batch.runner)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from famcli.cli.options import (
    ANSWER_TOKENS,
    MaxTokensOpt,
    NotesByOpt,
    QuietOpt,
    SummaryLengthOpt,
    SummaryTokensOpt,
    Ui,
    checked_question,
    grouped,
    recall_options,
    session_options,
    summary_tokens,
)

app = typer.Typer(name="batch", no_args_is_help=True, rich_markup_mode="rich",
                  help="Run ask, summarize or passkey over many documents: one JSON line each in --out.")

PathsArg = Annotated[list[str], typer.Argument(help="Documents: files, globs ('books/*.epub') or folders.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="JSON lines file, one line per document as it finishes.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Skip documents --out already has a line for.")]
JobsOpt = Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help="Workers, each loading the model once "
                                                "(local default: one per core, 2 GiB each; Ray: as the cluster holds).")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads per worker (local default: "
                                                   "the cores shared out; Ray default: 2).")]
RayOpt = Annotated[bool, typer.Option("--ray", help="Run the workers as Ray actors on a local Ray instance.")]
AddressOpt = Annotated[Optional[str], typer.Option("--ray-address", help="An existing Ray cluster (ray://host:10001 "
                                                   "or auto); implies --ray.")]


def _job(command: str, options: dict, session, recall=None):
    """The job every worker runs (its options were checked as they were parsed: nonsense fails before any worker
    starts)."""
    from dataclasses import asdict

    from famcli.batch.runner import Job

    return Job(command, options, session, None if recall is None else asdict(recall))


def _run(job, paths: list[str], out: Path, jobs, threads, resume: bool, ray: bool, address, quiet: bool) -> None:
    from famcli.batch.runner import run
    from famcli.batch.worker import Worker

    ui = Ui(quiet, progress=False)

    def show(line: dict, p) -> None:
        what = "ok" if line["status"] == "ok" else f"error: {line['error']}"
        ui.note(f"[{p.done}/{p.total}] {Path(line['file']).name}: {what} · {p.tokens:,} tokens, "
                f"{p.tokens_per_second:,.0f} tokens/s overall")

    progress = run(Worker, job, paths, out, jobs, threads, resume, ray, address, show)
    ui.note(f"{progress.done} document(s) done, {progress.failed} failed; results in {out}")
    if progress.failed:
        raise typer.Exit(1)


@app.command("ask")
@grouped(session=session_options, recall=recall_options)
def batch_ask(
    question: Annotated[str, typer.Argument(help="The question, asked of every document.", callback=checked_question)],
    paths: PathsArg, out: OutOpt, session: object, recall: object, resume: ResumeOpt = False, jobs: JobsOpt = None,
    threads: ThreadsOpt = None, ray: RayOpt = False, ray_address: AddressOpt = None,
    max_tokens: MaxTokensOpt = ANSWER_TOKENS, quiet: QuietOpt = False,
):
    """Ask every document the same question."""
    job = _job("ask", {"question": question, "max_tokens": max_tokens}, session, recall)
    _run(job, paths, out, jobs, threads, resume, ray, ray_address, quiet)


@app.command("summarize")
@grouped(session=session_options)
def batch_summarize(
    paths: PathsArg, out: OutOpt, session: object, resume: ResumeOpt = False, jobs: JobsOpt = None,
    threads: ThreadsOpt = None, ray: RayOpt = False, ray_address: AddressOpt = None,
    max_tokens: SummaryTokensOpt = None, length: SummaryLengthOpt = "medium", quiet: QuietOpt = False,
    sections: Annotated[int, typer.Option("--sections", min=1, max=200, help="Running notes per document.")] = 16,
    notes_by: NotesByOpt = "text",
):
    """Summarize every document."""
    job = _job("summarize", {"max_tokens": summary_tokens(length, max_tokens), "sections": sections,
                             "notes_by": notes_by}, session)
    _run(job, paths, out, jobs, threads, resume, ray, ray_address, quiet)


@app.command("passkey")
@grouped(session=session_options, recall=(recall_options, "answer_from"))
def batch_passkey(
    paths: PathsArg, out: OutOpt, session: object, recall: object, resume: ResumeOpt = False, jobs: JobsOpt = None,
    threads: ThreadsOpt = None, ray: RayOpt = False, ray_address: AddressOpt = None, quiet: QuietOpt = False,
    length: Annotated[Optional[int], typer.Option("--length", min=64, help="Read the first N tokens of each "
                                                  "document (default: all of it).")] = None,
    depth: Annotated[float, typer.Option("--depth", min=0.0, max=1.0, help="Where the key goes.")] = 0.5,
):
    """Hide a pass key in each document's own text and ask for it: does the memory find it in text like yours?"""
    job = _job("passkey", {"length": length, "depth": depth}, session, recall)
    _run(job, paths, out, jobs, threads, resume, ray, ray_address, quiet)
