#!/usr/bin/env python3
"""How often what the model reads holds the answer, stage by stage, for reader questions on the corpus books
(docs/answers.md, "Evidence"): BM25 passages of several sizes (best 1 / 3 / 10), then the best N re-ranked by
the model's likelihood of the question given each passage (UPR). A passage holds the answer when it contains
one of the question's expected words (case and accent marks ignored): that grading is this script's own.

    python examples/reader_evidence.py --sizes 60,120,250 --rerank 10,20 --out docs/results/answers/evidence.json
"""
import argparse, json, pathlib, time

import numpy as np

from famcli.answer.find import Passages
from famcli.answer.score import Scorer
from famcli.answer.read import upr_context
from famcli.documents.boilerplate import clean

from reader_questions import CORPUS, SETS, holds  # the grading, shared by the reader-question scripts


def first_hit(order: list[int], passages: Passages, expected: list[str]) -> int | None:
    return next((r for r, i in enumerate(order) if holds(passages.items[i].text, expected)), None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="60,120,250")
    parser.add_argument("--rerank", default="10,20", help="re-rank the best N BM25 passages (0: none)")
    parser.add_argument("--sets", default="dev,own")
    parser.add_argument("--prompt", choices=("plain", "chat"), default="plain",
                        help="UPR's own prompt, or the same request as a chat turn of the model's template")
    parser.add_argument("--out")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    reranks = [int(n) for n in args.rerank.split(",") if int(n)]
    scorer = None
    if reranks:
        from famcli.jobs.session import Session
        from famcli.models.loading import load_model
        from famcli.models.runtime import prepare

        loaded, config = prepare(load_model(None), "auto", "auto")
        session = Session(loaded, config)
        scorer = Scorer(session.final_reader(), session.lookup.scorer_encode)
        if args.prompt == "chat":
            from famcli.models.prompts import chat_turn

            tok = session.loaded.tokenizer
            context = lambda p: chat_turn(tok, f"{p}\n\nWrite a question about this text.")  # noqa: E731
        else:
            context = upr_context
    results = {}
    for set_name in args.sets.split(","):
        questions = json.loads(SETS[set_name].read_text())
        for size in sizes:
            ranks = {"bm25": []} | {f"upr{n}": [] for n in reranks}
            seconds = []
            for book, cases in questions.items():
                text = "".join(clean([(CORPUS / book).read_text(encoding="utf-8-sig")]))  # as famcli indexes it
                passages = Passages(text, size)
                for case in cases:
                    order = passages.best(case["q"], max([10, *reranks]))
                    ranks["bm25"].append(first_hit(order, passages, case["any"]))
                    if reranks:  # the question scored after each of the best max(reranks); each N re-ranks its first N
                        t0 = time.perf_counter()
                        top = order[:max(reranks)]
                        scores = scorer.each([context(passages.items[i].text) for i in top], " " + case["q"])
                        seconds.append(time.perf_counter() - t0)
                    for n in reranks:
                        ranked = [top[j] for j in np.argsort(-np.asarray(scores[:n]), kind="stable")]
                        ranks[f"upr{n}"].append(first_hit(ranked, passages, case["any"]))
            row = {stage: {f"@{k}": sum(r is not None and r < k for r in rs) for k in (1, 3, 10)}
                   for stage, rs in ranks.items()}
            row["n"] = len(ranks["bm25"])
            if seconds:
                row["rerank_seconds_median"] = round(float(np.median(seconds)), 2)
            results[f"{set_name} {size} words{' chat' if args.prompt == 'chat' else ''}"] = row
            print(f"{set_name} {size:>4} words  " + "  ".join(
                f"{stage} " + "/".join(str(v) for v in row[stage].values()) for stage in ranks) +
                  f"  of {row['n']}" + (f"  rerank {row.get('rerank_seconds_median')} s" if seconds else ""), flush=True)
    if args.out:  # several runs (sizes, prompts) share one file
        out = pathlib.Path(args.out)
        before = json.loads(out.read_text()) if out.exists() else {}
        out.write_text(json.dumps(before | results, indent=1) + "\n")


if __name__ == "__main__":
    main()
