"""Exact recall against the number of memory updates between a fact and its question (issue 16).

A pass key sits in one block; then exactly k more blocks of filler follow before the question, so the
memory must carry the key through k block updates (FAM updates, slot writes). Recall is off (answers come
from the memory alone), and the filler is never trained on: the standard passkey filler and, alternately,
text from a held-out book. Prints one line per k and writes the trials as JSON.

    python examples/recall_curve.py --memory fam --adapter run8.safetensors --updates 1,2,4,8,16,32,64 \
        --trials 4 --book ../shared/corpus/alice.txt --out curve.json
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from famcli.passkey.trials import FILLER, HEADER, NEEDLE, QUESTION, run_trial
from famcli.jobs.session import Session
from famcli.models.loading import load_model
from famcli.models.runtime import prepare


def book_tokens(session: Session, path: str | None) -> list[int]:
    if not path:
        return []
    from famcli.documents.boilerplate import clean_text

    text = "".join(clean_text([Path(path).read_text(encoding="utf-8").replace("\r\n", "\n")]))
    return session.tokens.encode(text)


def document(session: Session, k: int, key: int, book: list[int], rng: random.Random) -> list[int]:
    """Header, filler up to the needle's block, the needle, filler to the end of its block, k blocks of filler,
    then the question: the question's block is the needle's plus k."""
    B, enc = session.config.block_size, session.tokens.encode
    head, needle, question = enc(HEADER), enc(NEEDLE.format(key=key)), enc(QUESTION)
    if len(head) + len(needle) >= B:
        raise SystemExit(f"block size {B} is too small for the header and the needle")

    def filler(n: int) -> list[int]:
        if book:
            start = rng.randrange(0, len(book) - n)
            return book[start:start + n]
        unit = enc(FILLER)
        return (unit * (n // len(unit) + 1))[:n]

    before = rng.randrange(0, B - len(head) - len(needle))  # where in its block the needle sits
    after = B - len(head) - before - len(needle) + (k - 1) * B + rng.randrange(0, B - len(question))
    return head + filler(before) + needle + filler(after) + question


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memory", default="fam")
    parser.add_argument("--adapter", default="none")
    parser.add_argument("--block-size", type=int, default=None)
    parser.add_argument("--updates", default="1,2,4,8,16,32,64")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--book", default=None, help="held-out book for every other trial's filler")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    base = load_model(None, dtype=args.dtype)
    loaded, config = prepare(base, args.memory, args.adapter, block_size=args.block_size)
    session = Session(loaded, config, recall=None)
    book = book_tokens(session, args.book)
    rows = []
    for k in [int(x) for x in args.updates.split(",")]:
        rng = random.Random(args.seed * 1000 + k)
        trials = []
        for t in range(args.trials):
            key = rng.randint(1, 50000)
            ids = document(session, k, key, book if book and t % 2 else [], rng)
            trial = run_trial(session, len(ids), 0.0, key, ids=ids)
            trials.append({"key": key, "answer": trial.answer, "correct": trial.correct, "digits": trial.digits,
                           "tokens": len(ids), "filler": "book" if book and t % 2 else "passkey"})
        exact = sum(t["correct"] for t in trials)
        digits = sum(t["digits"] for t in trials) / len(trials)
        print(f"{config.mode} B={config.block_size} k={k:3d}: exact {exact}/{len(trials)}, digits {digits:.0%}  "
              + "; ".join(f"{t['key']}->{t['answer'][:14]!r}" for t in trials), flush=True)
        rows.append({"updates": k, "exact": exact, "trials": len(trials), "digits": round(digits, 3),
                     "detail": trials})
    if args.out:
        Path(args.out).write_text(json.dumps({"memory": config.to_dict(), "adapter": args.adapter,
                                              "curve": rows}, indent=1))


if __name__ == "__main__":
    main()
