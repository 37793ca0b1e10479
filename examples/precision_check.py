"""Does a precision keep the model's quality? Next-token loss through the memory on book text, per dtype,
side by side in one run (the gate for `--dtype int8` and for what `auto` picks: within 1% of fp32).

    .venv/bin/python examples/precision_check.py --dtypes fp32,int8 --tokens 8192 --out docs/results/precision.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from adapter_check import book_ids, mean_loss

from famcli.core.engine import build_engine
from famcli.models.loading import load_model
from famcli.models.runtime import prepare

BOOKS = ("sherlock.txt", "pride.txt", "moby.txt")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtypes", default="fp32,int8")
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--memory", default="sink", help="a memory mode, or auto (what `famcli ask` runs)")
    parser.add_argument("--offset", type=int, default=20000, help="first token of each book's stretch")
    parser.add_argument("--books", default=",".join(BOOKS))
    parser.add_argument("--out", default="docs/results/precision.json")
    args = parser.parse_args()
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    rows = []
    for dtype in args.dtypes.split(","):
        loaded, config = prepare(load_model(None, dtype=dtype), args.memory)  # with the shipped adapter, if any
        engine = build_engine(loaded, config)
        row = {"dtype": dtype, "memory": config.mode, "loss": {}, "seconds": 0.0}
        books = args.books.split(",")
        for book in books:
            ids = book_ids(loaded.tokenizer, corpus / book)[args.offset:args.offset + args.tokens + 1]
            t0 = time.perf_counter()
            with torch.no_grad():
                row["loss"][book] = round(mean_loss(engine, ids, skip=1024), 4)
            row["seconds"] += time.perf_counter() - t0
        row["mean_loss"] = round(sum(row["loss"].values()) / len(books), 4)
        row["tokens_per_second"] = round(len(books) * args.tokens / row["seconds"], 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]["mean_loss"]
    for row in rows:
        row["loss_vs_first"] = round(row["mean_loss"] / base - 1, 4)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print("| dtype | mean loss | vs " + rows[0]["dtype"] + " | tokens/s (all logits) |\n|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['dtype']} | {row['mean_loss']:.4f} | {row['loss_vs_first']:+.2%} | {row['tokens_per_second']:.0f} |")


if __name__ == "__main__":
    main()
