"""The keep memory on held-out facts asked in other words, among other facts (docs/keep.md): does the shipped
`keep` carry a fact through k block updates when the question paraphrases it, read as `famcli ask --no-recall`
reads?

A document is a random stretch of a random corpus book (as famcli.passkey.haystack takes them) with the
target fact half a block in, `--distractors` other held-out facts (other templates) at sentence ends after it,
and exactly k blocks after the target's block. The question is told to the memory and put before the document
(question_header), and the answer is the product's own (famcli.jobs.asking.ask, no recall index); right when
the answer holds the expected value. The facts, names and paraphrased questions are the held-out tables of
famcli/passkey/haystack.json (the training data never uses them); each fact is said once.

    python examples/keep_heldout.py --memory keep,sink --updates 8,64 --trials 8 > docs/results/keep/heldout.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from famcli.core.generate import Sampling
from famcli.passkey.haystack import TEMPLATES, book_text, random_fact
from famcli.jobs.asking import ask
from famcli.jobs.session import Session
from famcli.models.loading import load_model
from famcli.models.prompts import question_header
from famcli.models.runtime import resolve

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def heldout_document(session: Session, rng: random.Random, updates: int, template: int, distractors: int):
    """(ids, the fact): the question's header, half a block of a book, the fact, then the book with the
    distractors until exactly `updates` blocks follow the fact's block."""
    B, enc, decode = session.config.block_size, session.tokens.encode, session.loaded.tokenizer.decode
    fact = random_fact(rng, TEMPLATES[template])
    others = [random_fact(rng, TEMPLATES[t])
              for t in rng.sample([t for t in range(len(TEMPLATES)) if t != template], distractors)]
    body = book_text(rng.choice(sorted(CORPUS.glob("*.txt"))))
    start = rng.randrange(len(body) // 2)
    filler = enc(body[start:start + 6 * B * (updates + 2)])
    ids = enc(question_header(fact.question)) + filler[:B // 2] + enc(" " + fact.sentence + " ")
    rest = filler[B // 2:]
    for other in others:  # each after a sentence end of the rest
        cut = rng.randrange(B, (updates + 1) * B)
        while cut < len(rest) and "." not in decode([rest[cut]]):
            cut += 1
        rest = rest[:cut + 1] + enc(" " + other.sentence) + rest[cut + 1:]
    ids += rest[:(-len(ids)) % B + updates * B]
    return ids, fact


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--memory", default="keep,sink")
    p.add_argument("--updates", default="8,64")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--distractors", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    loaded = load_model(None, dtype="fp32")
    results, table = [], {}
    for mode in args.memory.split(","):
        config, _ = resolve(loaded, mode, "none", question=True)
        session = Session(loaded, config, recall=None)
        for u in (int(x) for x in args.updates.split(",")):
            rng = random.Random(1000 * args.seed + u)
            for t in range(args.trials):
                ids, fact = heldout_document(session, rng, u, t % len(TEMPLATES), args.distractors)
                t0 = time.perf_counter()
                state = session.new_state(fact.question)
                session.read_ids(state, ids)
                said = ask(session, state, fact.question, 40, Sampling()).text
                r = {"memory": mode, "updates": u, "template": t % len(TEMPLATES), "question": fact.question,
                     "answer": fact.answer, "said": said, "right": fact.found_in(said), "tokens": len(ids),
                     "seconds": round(time.perf_counter() - t0, 1)}
                results.append(r)
                table.setdefault(mode, {}).setdefault(u, []).append(r["right"])
                print(json.dumps(r), file=sys.stderr, flush=True)
    right = {m: {u: f"{sum(v)}/{len(v)}" for u, v in d.items()} for m, d in table.items()}
    print(json.dumps({"config": config.to_dict() | {"mode": None}, "distractors": args.distractors,
                      "right": right, "trials": results}, indent=2))


if __name__ == "__main__":
    main()
