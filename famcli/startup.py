"""`famcli bench --startup`: how long a short question takes from a fresh process, and where the time goes.

The phases are timed inside a child process (`famcli bench-startup`), which imports nothing heavy before the
clock starts (this module imports only the standard library at the top).
"""

from __future__ import annotations

import time

STARTUP_DOC = "The meeting is on Tuesday at noon.\n"
STARTUP_QUESTION = "When is the meeting?"


def startup_phases(model=None, dtype: str = "auto", path: str | None = None) -> dict:
    """Seconds spent (in this fresh process) importing what `famcli ask` needs, loading the model and reading
    the document, and answering: what `famcli bench --startup` runs in a child process."""
    t0 = time.perf_counter()
    from famcli.jobs import ask_document
    from famcli.reading import open_session

    t1 = time.perf_counter()
    session = open_session(model, "auto", {}, dtype, "auto", 0)
    t2 = time.perf_counter()
    result = ask_document(session, path, STARTUP_QUESTION, max_tokens=24)
    t3 = time.perf_counter()
    return {"import_seconds": t1 - t0, "load_seconds": t2 - t1, "answer_seconds": t3 - t2,
            "answer": result["answer"], "answer_tokens": len(session.tokens.encode(result["answer"]))}


def startup(model=None, dtype: str = "auto", runs: int = 3, note=print) -> dict:
    """`famcli ask` on a one-line file, timed end to end in fresh processes (the model cache warm), and split
    into import, load and first answer; medians of `runs`. The first run fills the caches and is not counted."""
    import json
    import statistics
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / "note.txt"
        doc.write_text(STARTUP_DOC)
        model_args = ["--model", str(model)] if model else []
        ask = [sys.executable, "-m", "famcli", "ask", str(doc), STARTUP_QUESTION, "-q", "--dtype", dtype, *model_args]
        cell = [sys.executable, "-m", "famcli", "bench-startup", str(doc), "--dtype", dtype, *model_args]
        subprocess.run(ask, capture_output=True, text=True)  # warm-up: page cache, converted weights
        totals, phases = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            done = subprocess.run(ask, capture_output=True, text=True)
            totals.append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise RuntimeError(f"famcli ask failed: {done.stderr.strip()[-300:]}")
            t0 = time.perf_counter()
            child = subprocess.run(cell, capture_output=True, text=True)
            if child.returncode != 0:
                raise RuntimeError(f"bench-startup failed: {child.stderr.strip()[-300:]}")
            phases.append(json.loads(child.stdout) | {"process_seconds": time.perf_counter() - t0})
            note(f"  ask end to end {totals[-1]:.2f} s")
    median = {k: round(statistics.median(p[k] for p in phases), 3) for k in phases[0] if k.endswith("seconds")}
    median["python_and_cli_seconds"] = round(median.pop("process_seconds") - median["import_seconds"]
                                             - median["load_seconds"] - median["answer_seconds"], 3)
    return {"command": "bench", "startup": {"ask_seconds": round(statistics.median(totals), 3), **median,
                                            "runs": runs, "dtype": dtype, "answer": phases[-1]["answer"],
                                            "answer_tokens": phases[-1]["answer_tokens"]}}
