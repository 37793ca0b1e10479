"""Commands that measure: passkey (retrieval accuracy per memory), bench (reading speed and memory)."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from famcli.cli.options import (
    DtypeOpt,
    JsonOpt,
    ModelOpt,
    PlotOpt,
    QuietOpt,
    Ui,
    emit,
    grouped,
    recall_options,
    session_options,
    ui_options,
)
from famcli.common.outputs import check_writable


@grouped(options=(session_options, "memory"), recall=(recall_options, "answer_from"), ui=ui_options)
def passkey(
    length: Annotated[str, typer.Option("--length", help="Token counts: list (4k,16k,64k) or range (2k-16k).")] = "2k,8k",
    depth: Annotated[str, typer.Option("--depth", help="Needle depths as fractions.")] = "0.1,0.5,0.9",
    trials: Annotated[int, typer.Option("--trials", min=1, help="Random keys per cell.")] = 2,
    memories: Annotated[str, typer.Option("--memory", help="Memory modes side by side, comma separated "
                                          "(fam-zero-shot: fam without the adapter), e.g. fam,bswa,sink "
                                          "with --no-recall to compare the memories alone.")] = "auto",
    options: object = None, recall: object = None, ui: Ui = None, as_json: JsonOpt = False, plot_path: PlotOpt = None,
):
    """The standard passkey retrieval check: accuracy per length x depth for each memory mode (full, sink and
    bswa always on the base model; the adapter serves fam and memformer)."""
    from famcli.jobs.options import memory_config
    from famcli.passkey.trials import check_cells, compare, markdown, parse_depths, parse_lengths, passkey_payload, plot
    from famcli.models.loading import load_model

    t_start, size = time.perf_counter(), options.sizes
    check_writable(plot_path, "plot")
    lengths, depths = parse_lengths(length), parse_depths(depth)
    modes = [m.strip() for m in memories.split(",") if m.strip()]
    check_cells(lengths, depths, trials, modes)
    for m in modes:
        memory_config(m, **size)
    base = load_model(options.model, dtype=options.dtype, device=options.device)
    results, configs, used = compare(base, modes, lengths, depths, trials, options.seed, size, options.adapter, recall,
                                     ui)
    payload = passkey_payload(results, configs, base.name, recall, used, time.perf_counter() - t_start)
    if plot_path:
        plot(payload["accuracy"], depths, str(plot_path), " + recall" if recall is not None else "")
        ui.note(f"Wrote the heatmap to {plot_path}.")
    emit(as_json, payload, markdown(payload["accuracy"], depths, payload["digits_right"]))


@grouped(options=(session_options, "memory", "dtype"))
def bench(
    length: Annotated[Optional[str], typer.Option("--length", help="Document lengths in tokens (list or doubling "
                                                  "range; default 2k,8k,32k, none with --startup alone).")] = None,
    memories: Annotated[str, typer.Option("--memory", help="Modes to time; full is the plain model, one forward pass; "
                                          "MODE+recall builds the recall index of a known question (ask, passkey), "
                                          "MODE+index the one a saved reading keeps.")] = "full,fam,bswa,sink",
    options: object = None,
    dtype: Annotated[str, typer.Option("--dtype", help="auto | int8 | bf16 | fp16 | fp32, or several side by "
                                       "side: fp32,int8,bf16.")] = "auto",
    as_json: JsonOpt = False, quiet: QuietOpt = False,
    plot_path: Annotated[Optional[Path], typer.Option("--plot", help="Write tokens/s and memory vs length (PNG).")] = None,
    min_seconds: Annotated[float, typer.Option("--min-seconds", min=0.0, help="Read each document again until this many seconds have passed; the median pass counts.")] = 10.0,
    startup: Annotated[bool, typer.Option("--startup", help="Also time `famcli ask` on a one-line file from a fresh "
                                          "process per --dtype (and llama.cpp's answer where installed): end to "
                                          "end, split into import, load and first answer. Alone: only that.")] = False,
):
    """Reading speed and peak memory per memory mode, precision and length, next to the matmul roofline, and
    with --startup how long a short question takes from a fresh process: all in one run, side by side."""
    from famcli.passkey.trials import parse_lengths
    from famcli.measure.bench import describe, plot_rates, run
    from famcli.models.loading import pick_device, pick_dtype

    ui, size, model, device = Ui(quiet, False), options.sizes, options.model, options.device
    dtypes = [d.strip() for d in dtype.split(",") if d.strip()]
    for d in dtypes:
        pick_dtype(d, pick_device(device))  # a bad one fails before the long runs
    if startup and length is None:
        return _startup(model, dtypes, as_json, ui)
    check_writable(plot_path, "plot")
    lengths, modes = parse_lengths(length or "2k,8k,32k"), _bench_modes(memories, size)
    if importlib.util.find_spec("llama_cpp") is not None and (model is None or str(model).endswith(".gguf")):
        modes.append("llama.cpp")  # the speed users compare with, on the same GGUF file
    payload = run(lengths, modes, dtypes, model, size, device, options.seed, options.adapter, min_seconds, ui.note)
    if plot_path:
        plot_rates(payload["results"], str(plot_path))
    text = describe(payload, pick_device(device).type == "cpu")
    if startup:
        from famcli.measure.startup import startup_table, startups

        payload["startup"] = startups(model, dtypes, note=ui.note)
        text += "\n\n" + startup_table(payload["startup"])
    emit(as_json, payload, text)


def _bench_modes(memories: str, size: dict) -> list[str]:
    """The --memory list of `bench`, each checked before the long runs."""
    from famcli.jobs.options import memory_config

    modes = [m.strip() for m in memories.split(",") if m.strip()]
    for m in modes:
        if m.partition("+")[2] not in ("", "recall", "index"):
            raise typer.BadParameter(f"{m}: add +recall or +index to a mode, nothing else", param_hint="--memory")
        memory_config(m.partition("+")[0], **size)
    return modes


def _startup(model, dtypes: list[str], as_json: bool, ui: Ui) -> None:
    from famcli.measure.startup import startup_table, startups

    result = {"command": "bench", "startup": startups(model, dtypes, note=ui.note)}
    emit(as_json, result, startup_table(result["startup"]))


def bench_startup(file: Annotated[str, typer.Argument()], model: ModelOpt = None, dtype: DtypeOpt = "auto",
                  llama_cpp: Annotated[bool, typer.Option("--llama-cpp")] = False):
    """The phases of one short question, timed in this fresh process (for `famcli bench --startup`)."""
    from famcli.measure.startup import llama_cpp_phases

    typer.echo(json.dumps(llama_cpp_phases(model, file) if llama_cpp else _ask_phases(model, dtype, file)))


def _ask_phases(model=None, dtype: str = "auto", path: str | None = None) -> dict:
    """Seconds spent (in this fresh process) importing what `famcli ask` needs, loading the model and reading
    the document, and answering: what `famcli bench --startup` runs in a child process."""
    from famcli.measure import startup

    t0 = time.perf_counter()
    from famcli.jobs.asking import ask_document
    from famcli.jobs.opening import open_session
    from famcli.jobs.options import SessionOptions
    from famcli.recall.search import RecallOptions

    t1 = time.perf_counter()
    session = open_session(SessionOptions(model, dtype=dtype), recall=RecallOptions())  # as `famcli ask` opens it
    t2 = time.perf_counter()
    result = ask_document(session, path, startup.STARTUP_QUESTION, max_tokens=24)
    t3 = time.perf_counter()
    return {"import_seconds": t1 - t0, "load_seconds": t2 - t1, "answer_seconds": t3 - t2,
            "answer": result["answer"], "answer_tokens": len(session.tokens.encode(result["answer"]))}


@grouped(options=(session_options, "memory"))
def bench_cell(mode: Annotated[str, typer.Option("--mode")], tokens: Annotated[int, typer.Option("--tokens")],
               options: object = None, min_seconds: Annotated[float, typer.Option("--min-seconds")] = 0.0):
    """One measurement in a fresh process, so its peak resident memory is its own."""
    from famcli.measure.bench import cell

    row = cell(mode, tokens, options.model, options.sizes, options.dtype, options.device, options.seed,
               options.adapter, min_seconds)
    typer.echo(json.dumps(row))
