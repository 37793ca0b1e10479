"""Where should famcli stop re-reading a document whole and answer from recalled passages instead?

For documents that fit the model's window, compare the exact-answer rate of (a) the plain model reading the
whole document with the question before and after it, and (b) the recall prompt (question, BM25's best
passages, the recent window, question), on facts hidden in book text and on pass keys (docs/recall.md).

    .venv/bin/python examples/whole_vs_recall.py --lengths 3k,4k,6k,8k --docs 2 --out docs/results/whole_vs_recall.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
from recall_eval import questions

from famcli.core.generate import Sampling
from famcli.passkey.trials import parse_lengths
from famcli.jobs.session import Session
from famcli.models.loading import load_model
from famcli.models.runtime import prepare
from famcli.recall.search import SEPARATOR, RecallOptions, layout
from famcli.recall.text import bm25_scores, chunk_texts


def answer(session, index, scores, prefix, suffix, budget, short):
    tok = session.loaded.tokenizer
    p, s = tok.encode(prefix, add_special_tokens=False), tok.encode(suffix, add_special_tokens=False)
    ids, _ = layout(index, scores, session.recall, p, s, session.tokens.encode(SEPARATOR), budget,
                    session.config.window)
    t0 = time.perf_counter()
    reply = session.answer_from(ids, 8 if short else 32, Sampling(), () if short else ("\n",))
    return reply, len(ids), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="3k,4k,6k,8k")
    parser.add_argument("--docs", type=int, default=2)
    parser.add_argument("--kinds", default="facts,passkey")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", default="docs/results/whole_vs_recall.json")
    args = parser.parse_args()
    loaded = load_model(None)
    loaded, config = prepare(loaded, "auto", "auto")
    books = sorted(Path(__file__).resolve().parents[2].joinpath("shared", "corpus").glob("*.txt"))
    rng, rows = random.Random(args.seed), []
    for n_tokens in parse_lengths(args.lengths):
        for kind in args.kinds.split(","):
            for _ in range(args.docs if kind == "facts" else 2 * args.docs):
                session = Session(loaded, config, RecallOptions())
                ids, qs = questions(session, kind, n_tokens, rng, books)
                index = session.lookup.new_index()
                index.ids.extend(ids)
                texts = chunk_texts(index, loaded.tokenizer.decode)
                for question, right, prefix, suffix, _span in qs:
                    short = kind == "passkey"
                    row = {"kind": kind, "tokens": len(ids), "question": question, "answer": right}
                    scores = np.asarray(bm25_scores(texts, question))
                    whole_budget = loaded.context_window - (8 if short else 32) - 8
                    for name, budget in (("whole", whole_budget), ("recall", min(whole_budget, 1536))):
                        reply, n, seconds = answer(session, index, scores, prefix, suffix, budget, short)
                        row[name] = {"reply": reply, "correct": right.lower() in reply.lower(), "prompt_tokens": n,
                                     "seconds": round(seconds, 1)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    Path(args.out).write_text(json.dumps(rows, indent=1))
    print("| questions | tokens | n | whole | recall | whole s | recall s |\n|---|---:|---:|---:|---:|---:|---:|")
    for kind in sorted({r["kind"] for r in rows}):
        for n in sorted({round(r["tokens"] / 1000) for r in rows if r["kind"] == kind}):
            sel = [r for r in rows if r["kind"] == kind and round(r["tokens"] / 1000) == n]
            cells = [f"{sum(r[m]['correct'] for r in sel)}/{len(sel)}" for m in ("whole", "recall")]
            secs = [f"{np.mean([r[m]['seconds'] for r in sel]):.1f}" for m in ("whole", "recall")]
            print(f"| {kind} | {n}k | {len(sel)} | {' | '.join(cells)} | {' | '.join(secs)} |")


if __name__ == "__main__":
    main()
