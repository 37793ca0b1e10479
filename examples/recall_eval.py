"""Measure the recall scorers (docs/recall.md): recall@k of the chunk that holds the answer, per scorer and
per layer for the attention scorer, and the exact-answer rate, on facts hidden in book text and on pass keys.

    .venv/bin/python examples/recall_eval.py --lengths 4k,16k,64k --docs 2 --out docs/results/recall_eval.json

Each document is read once through the memory (the default mode) with an index that keeps representative
keys at every layer; every question is then scored against it.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from famcli.passkey.haystack import haystack
from famcli.passkey.trials import ASKED, HEADER, QUESTION, document_ids
from famcli.jobs.session import Session
from famcli.models.loading import load_model
from famcli.models.prompts import chat_turn, question_header
from famcli.models.runtime import prepare
from famcli.recall.index import RecallConfig, attention_scores, head_scores
from famcli.recall.search import RecallOptions, rank_fusion
from famcli.recall.text import bm25_scores, chunk_texts

KS = (1, 4, 8, 16)


def needle_rank(scores: np.ndarray, chunks: list[int]) -> int:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(len(scores))
    return int(min(ranks[c] for c in chunks))


def questions(session: Session, kind: str, n_tokens: int, rng: random.Random, books: list[Path]):
    """(ids of the document, [(question, answer, prefix, suffix, token span)])"""
    if kind == "passkey":
        key = rng.randint(1, 50000)
        ids = document_ids(session, n_tokens, rng.random(), key)
        ids = ids[:len(ids) - len(session.tokens.encode(QUESTION))]
        needle = session.tokens.encode(f"The pass key is {key}")
        at = next(i for i in range(len(ids)) if ids[i:i + len(needle)] == needle)
        return ids, [(ASKED, str(key), HEADER, QUESTION, (at, at + len(needle)))]
    text, facts = haystack(books, n_tokens * 4, [rng.uniform(0.05, 0.8) for _ in range(3)], rng)
    ids = session.tokens.encode(text)
    ids = ids[:n_tokens]
    out = []
    for f in facts:
        start = len(session.tokens.encode(text[:f.char]))
        if start >= len(ids):
            continue
        span = (start, start + len(session.tokens.encode(f.sentence)))
        turn = chat_turn(session.loaded.tokenizer, f.question)
        out.append((f.question, f.answer, question_header(f.question), turn, span))
    return ids, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="4k,16k,64k")
    parser.add_argument("--docs", type=int, default=2)
    parser.add_argument("--kinds", default="facts,passkey")
    parser.add_argument("--answer-scorers", default="bm25,attention,fusion", help="or none: ranks only")
    parser.add_argument("--blocks", default="4,8")
    parser.add_argument("--context", type=int, default=RecallOptions().context)
    parser.add_argument("--default-layers", default="17,18,28,29")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bm25-only", action="store_true",
                        help="Skip reading through the model (BM25 needs only the text): for the longest documents")
    parser.add_argument("--out", default="docs/results/recall_eval.json")
    args = parser.parse_args()
    from famcli.passkey.trials import parse_lengths

    loaded = load_model(None)
    loaded, config = prepare(loaded, "auto", "auto")
    L = loaded.config.num_hidden_layers
    every_layer = RecallConfig(layers=tuple(range(L)))
    default_layers = tuple(int(x) for x in args.default_layers.split(","))
    books = sorted(Path(__file__).resolve().parents[2].joinpath("shared", "corpus").glob("*.txt"))
    rng = random.Random(args.seed)
    rows = []
    for n_tokens in parse_lengths(args.lengths):
        for kind in args.kinds.split(","):
            for doc in range(args.docs):
                session = Session(loaded, config, RecallOptions(), every_layer)
                ids, qs = questions(session, kind, n_tokens, rng, books)
                state = session.engine.new_state()
                state.recall = session.lookup.new_index()
                t0 = time.perf_counter()
                if args.bm25_only:
                    state.recall.ids.extend(ids)
                else:
                    session.read_ids(state, ids)
                    state.recall.finish()
                read_s = time.perf_counter() - t0
                index = state.recall
                texts = chunk_texts(index, loaded.tokenizer.decode)
                C = index.config.chunk_tokens
                for question, answer, prefix, suffix, (a, b) in qs:
                    chunks = list(range(a // C, (b - 1) // C + 1))
                    bm25 = bm25_scores(texts, question)
                    scores, per_layer = {"bm25": bm25}, {}
                    if not args.bm25_only:
                        query = session.lookup.question_queries(question, index.layers)
                        heads = head_scores(query, index.layers, torch.stack(index.reps))  # (n, L * H)
                        H = heads.shape[1] // len(index.layers)
                        per_layer = {l: needle_rank(attention_scores(heads[:, l * H:(l + 1) * H]).numpy(), chunks)
                                     for l in index.layers}
                        cols = [l * H + h for l in default_layers for h in range(H)]
                        attn = attention_scores(heads[:, cols]).numpy()
                        scores |= {"attention": attn, "fusion": rank_fusion(bm25, attn - attn.min() + 1e-6)}
                    row = {"kind": kind, "tokens": len(ids), "chunks": index.n_chunks, "question": question,
                           "answer": answer, "read_seconds": round(read_s, 1),
                           "rank": {s: needle_rank(v, chunks) for s, v in scores.items()},
                           "rank_per_layer": per_layer, "answers": {}}
                    oracle = np.zeros(index.n_chunks, dtype=np.float32)
                    oracle[chunks] = 1.0  # the answer's own chunk alone: what the model can do at best
                    scores_for_answers = scores | {"oracle": oracle}
                    wanted = [] if args.answer_scorers == "none" else args.answer_scorers.split(",") + ["oracle"]
                    for scorer in [x for x in wanted if x in scores_for_answers]:
                        for k in (int(x) for x in args.blocks.split(",")):
                            session.recall = RecallOptions(blocks=k, context=args.context,
                                                           scorer="bm25" if scorer == "oracle" else scorer)
                            short = kind == "passkey"
                            t1 = time.perf_counter()
                            prompt, _ = _layout(session, index, scores_for_answers[scorer], prefix, suffix,
                                                8 if short else 32)
                            from famcli.core.generate import Sampling

                            reply = session.answer_from(prompt, 8 if short else 32, Sampling(),
                                                        () if short else ("\n",))
                            row["answers"][f"{scorer}@{k}"] = {"reply": reply, "correct": answer.lower() in reply.lower(),
                                                               "prompt_tokens": len(prompt),
                                                               "seconds": round(time.perf_counter() - t1, 1)}
                    rows.append(row)
                    print(json.dumps({k: row[k] for k in ("kind", "tokens", "rank", "answers")}), flush=True)
                    Path(args.out).write_text(json.dumps(rows, indent=1))
    summary(rows)


def _layout(session, index, scores, prefix, suffix, answer_tokens):
    from famcli.recall.search import SEPARATOR, layout

    tok = session.loaded.tokenizer
    p, s = tok.encode(prefix, add_special_tokens=False), tok.encode(suffix, add_special_tokens=False)
    budget = session.loaded.context_window - answer_tokens - 8
    return layout(index, scores, session.recall, p, s, session.tokens.encode(SEPARATOR), budget,
                  session.config.window)


def summary(rows: list[dict]) -> None:
    """Markdown: recall@k per scorer and exact answers, per kind and length; attention recall@8 per layer."""
    print("| questions | tokens | n | scorer | " + " | ".join(f"R@{k}" for k in KS) + " | exact (K=4) |")
    print("|---|---:|---:|---|" + "---:|" * (len(KS) + 1))
    for kind in sorted({r["kind"] for r in rows}):
        for n in sorted({round(r["tokens"] / 1000) for r in rows if r["kind"] == kind}):
            sel = [r for r in rows if r["kind"] == kind and round(r["tokens"] / 1000) == n]
            for scorer in [*sel[0]["rank"], "oracle"]:
                key = f"{scorer}@4"
                exact = [r["answers"][key]["correct"] for r in sel if key in r["answers"]]
                cells = " | ".join(f"{np.mean([r['rank'][scorer] < k for r in sel]):.0%}" if scorer in sel[0]["rank"]
                                   else "-" for k in KS)
                print(f"| {kind} | {n}k | {len(sel)} | {scorer} | {cells} | "
                      f"{f'{np.mean(exact):.0%}' if exact else '-'} |")
    for kind in sorted({r["kind"] for r in rows}):
        sel = [r for r in rows if r["kind"] == kind and r["rank_per_layer"]]
        if sel:
            layers = sorted(sel[0]["rank_per_layer"], key=int)
            print(kind, "attention R@8 per layer:",
                  " ".join(f"{l}:{np.mean([r['rank_per_layer'][l] < 8 for r in sel]):.2f}" for l in layers))


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--summary":
        summary(json.loads(Path(sys.argv[2]).read_text()))
    else:
        main()
