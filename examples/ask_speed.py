"""`famcli ask` end to end on long documents, as a user runs it (a fresh process each time, the default
model and options): total time, answer time after indexing, and peak memory, from 10k to 1M tokens; with
`--old CHECKOUT` also an older famcli side by side in the same run (docs/recall.md, "Speed").

    .venv/bin/python examples/ask_speed.py --lengths 10k,200k,1M --old /tmp/oldtree --old-lengths 200k

A document is corpus prose (books in turn, cycled) with one pass key at a random depth; the older checkout runs
with its own folder first on the path (`python -P -m famcli` with PYTHONPATH set to it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def document(tokens: int, rng: random.Random, path: Path) -> str:
    books = [b.read_text(encoding="utf-8").replace("\r\n", "\n") for b in sorted(CORPUS.glob("*.txt"))]
    text, i = "", 0
    while len(text) < tokens * 4.2:
        text += books[i % len(books)]
        i += 1
    text = text[:int(tokens * 4.2)]
    key = str(rng.randint(10000, 9999999))
    at = text.find(". ", int(rng.uniform(0.1, 0.9) * len(text))) + 2
    path.write_text(text[:at] + f"The pass key is {key}. Remember it. " + text[at:])
    return key


def run(argv: list[str], env: dict) -> dict:
    t0 = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], capture_output=True, text=True, env=env,
                          cwd=tempfile.gettempdir())
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-500:])
    result = json.loads(done.stdout)
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return {"seconds": round(seconds, 1), "peak_mb": round(peak_kb / 1024), "answer": result["answer"],
            "tokens": result["tokens_read"], "answer_seconds": result["timings"].get("answer_seconds")}


def parse(text: str) -> list[int]:
    return [int(float(t[:-1]) * (1000 if t.endswith("k") else 1_000_000)) if t[-1] in "kM" else int(t)
            for t in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="10k,200k,1M")
    parser.add_argument("--old", help="a checkout of an older famcli to run side by side")
    parser.add_argument("--old-lengths", default="200k")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", default="ask_speed.json")
    args = parser.parse_args()
    rng, rows = random.Random(args.seed), []
    new = [str(Path(sys.executable).with_name("famcli"))]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as tmp:
        for n in parse(args.lengths):
            path = Path(tmp) / f"doc{n}.txt"
            key = document(n, rng, path)
            question = ["ask", str(path), "What is the pass key?", "--json", "-q"]
            row = {"length": n, "key": key, "new": run([*new, *question], env)}
            if args.old and n in parse(args.old_lengths):
                old_env = env | {"PYTHONPATH": args.old}
                row["old"] = run([sys.executable, "-P", "-m", "famcli", *question], old_env)
            for side in ("new", "old"):
                if side in row:
                    row[side]["correct"] = key in row[side]["answer"]
            rows.append(row)
            print(json.dumps(row), flush=True)
            Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
