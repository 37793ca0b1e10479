"""`famcli train`: teach a model to use its memory (famcli.training.train) and write an adapter file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from famcli.cli.options import (
    BlockOpt,
    DeviceOpt,
    DtypeOpt,
    FamOpt,
    ModelOpt,
    QuietOpt,
    SeedOpt,
    SegmentsOpt,
    Ui,
)
from famcli.common.outputs import check_writable


def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Adapter file to write (safetensors).")] = Path("famcli-adapter.safetensors"),
    corpus: Annotated[Optional[list[Path]], typer.Option("--corpus", help="Plain-text books for filler and language modelling (files or folders, UTF-8); without it filler is synthetic.")] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps (one document each).")] = 300,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="LoRA learning rate.")] = 1e-3,
    prompt_lr: Annotated[float, typer.Option("--prompt-lr", min=0.0, help="Learning rate of the memory's own weights (FAM prompt, Memformer writer and slots).")] = 2e-3,
    rank: Annotated[int, typer.Option("--rank", min=1, help="LoRA rank (attention and MLP projections).")] = 8,
    max_blocks: Annotated[int, typer.Option("--max-blocks", min=1, help="Longest training document, in blocks (curriculum end).")] = 12,
    min_blocks: Annotated[Optional[int], typer.Option("--min-blocks", min=1, help="Shortest training document, in blocks [default: 3, at most --max-blocks].")] = None,
    ramp: Annotated[float, typer.Option("--ramp", min=0.0, max=1.0, help="Share of the steps over which the longest document grows from --min-blocks to --max-blocks (0: every document draws its length from the whole range from the start).")] = 0.5,
    block_sizes: Annotated[Optional[str], typer.Option("--block-sizes", help="Block sizes drawn per document, e.g. 32,64,256 (short blocks give many memory updates for few tokens); default: --block-size.")] = None,
    state_passing: Annotated[float, typer.Option("--state-passing", min=0.0, max=1.0, help="Probability a document starts from the previous step's memory.")] = 0.5,
    mix: Annotated[str, typer.Option("--mix", help="Shares of facts, language-modelling and copy documents (lm and copy need --corpus).")] = "0.8,0.1,0.1",
    far: Annotated[float, typer.Option("--far", min=0.0, max=1.0, help="Share of facts hidden beyond the window (only the memory can hold them).")] = 0.8,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", min=1, help="Steps between checkpoints.")] = 20,
    minutes: Annotated[Optional[float], typer.Option("--minutes", min=0.0, help="Stop after this many minutes of training (the step under way finishes; checkpoint and adapter are written; --resume continues).")] = None,
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
    from famcli.training.data import find_books
    from famcli.training.train import TrainConfig, checkpoint_for, start_trainer

    shares, sizes, min_blocks = _checked(memory, resume, init, mix, fam_keep_norm, block_sizes, min_blocks, max_blocks)
    books = find_books(corpus)
    check_writable(out, "adapter")
    check_writable(log, "log")
    checkpoint = checkpoint_for(out, resume)
    config = TrainConfig(steps=steps, lr=lr, prompt_lr=prompt_lr, rank=rank, alpha=2.0 * rank, max_blocks=max_blocks,
                         min_blocks=min_blocks, ramp=ramp, block_sizes=sizes, state_passing=state_passing, seed=seed,
                         checkpoint_every=checkpoint_every)
    trainer = start_trainer(model, dtype, device, memory, (block_size, memory_segments, fam_length), fam_keep_norm,
                            config, books, shares, far, checkpoint if resume else None, init)
    ui = Ui(quiet, progress=True)
    ui.note(f"training {trainer.describe()}; {len(books)} book(s); from step {trainer.step} to {steps}")
    deadline = None if minutes is None else time.monotonic() + 60 * minutes
    with (open(log, "a") if log else open("/dev/null", "w")) as log_file:
        stopped = _run_until_stopped(trainer, out, checkpoint, lambda entry: _step(ui, log_file, entry, trainer),
                                     lambda: ui.note("stopping after this step (Ctrl-C again to stop at once, "
                                                     "losing the step)"), deadline)
    if stopped == "time":
        ui.note(f"--minutes {minutes:g} spent at step {trainer.step}; wrote {out} and {checkpoint} "
                f"(--resume continues)")
    elif stopped:
        ui.note(f"stopped at step {trainer.step}; checkpoint {checkpoint}, adapter {out}; continue with --resume")
        raise typer.Exit(130)
    ui.note(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) after {trainer.step} steps; {checkpoint} is kept: "
            f"--resume --steps N extends the run (delete it when done)")


def _checked(memory, resume, init, mix, fam_keep_norm, block_sizes, min_blocks, max_blocks) -> tuple:
    """The options that depend on each other, checked before the model loads: (mix shares, block sizes,
    min_blocks)."""
    from famcli.core.memory import trainable_modes
    from famcli.training.data import parse_mix

    if memory not in trainable_modes():
        raise typer.BadParameter(f"train {' or '.join(trainable_modes())}", param_hint="--memory")
    if resume and init is not None:
        raise typer.BadParameter("a resumed run already has its weights; drop --init", param_hint="--init")
    try:
        shares = parse_mix(mix)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mix") from None
    if fam_keep_norm and memory != "fam":
        raise typer.BadParameter("only --memory fam has a FAM to keep the norm of", param_hint="--fam-keep-norm")
    try:
        sizes = tuple(sorted({int(x) for x in block_sizes.split(",")})) if block_sizes else ()
    except ValueError:
        sizes = (0,)
    if sizes and min(sizes) < 1:
        raise typer.BadParameter(f"{block_sizes!r}: give positive block sizes, e.g. 32,64,256",
                                 param_hint="--block-sizes")
    if min_blocks is None:
        min_blocks = min(3, max_blocks)
    elif min_blocks > max_blocks:
        raise typer.BadParameter(f"{min_blocks} is more than --max-blocks {max_blocks}", param_hint="--min-blocks")
    return shares, sizes, min_blocks


def _run_until_stopped(trainer, out: Path, checkpoint: Path, on_step, on_stop, deadline: float | None = None):
    """famcli.training.train.run, where Ctrl-C, SIGTERM and SIGHUP finish the step, save, and stop (a second
    Ctrl-C stops at once, losing the step), as does reaching the `deadline` (time.monotonic()); the library
    only asks `should_stop` between steps. True when a signal stopped it, "time" at the deadline, else False."""
    import signal

    from famcli.training.train import run

    stop = {"asked": False}

    def timed_out() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    def ask_stop(signum, frame):
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        on_stop()

    previous = {s: signal.signal(s, ask_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        run(trainer, out, checkpoint, on_step, should_stop=lambda: stop["asked"] or timed_out())
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return stop["asked"] or ("time" if timed_out() and trainer.step < trainer.config.steps else False)


def _step(ui: Ui, log_file, entry, trainer) -> None:
    ui.note(f"step {entry.step + 1}/{trainer.config.steps} {entry.kind:5} {entry.tokens:6,} tok {entry.blocks:3} "
            f"x {entry.block_size} loss {entry.loss:7.4f}  {entry.tokens_per_second:5.0f} tok/s  "
            f"{'passed-state ' if entry.passed_state else ''}ETA {trainer.eta_minutes():.0f} min")
    log_file.write(json.dumps(entry.__dict__) + "\n")
    log_file.flush()
