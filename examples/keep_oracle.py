"""Can the model read back key/value rows kept from far behind the window? The oracle of issue 36, step 1.

A memory `keep-oracle` (registered here; the shipped `keep`, famcli/core/memory/keep.py, grew from it) holds N rows
per layer before the ring: the first `--sink` tokens of the document (attention sinks, as `sink` keeps them) and,
after each block, the best of the rows it held and the block's tokens by a score. Kept keys are stored unrotated
and rotated afresh at the start of each block to sit just before the window, in their document order (as `sink`
does for its first tokens). Here the score is an oracle: the needle's own tokens score 1, every other token 0, so
the needle is always kept and the only question is whether the model reads it back from there.

Documents: prose from the corpus books as filler (a random stretch per trial), a fact at the start (after a
short header) and then exactly `k` more blocks of filler before the question, so the memory updates `k` times
after the needle left the block it was in. Recall is off: the answer is read after the memory's state alone.

    python examples/keep_oracle.py --updates 8,64,256 --trials 4 > docs/results/training/keep_oracle.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from famcli.core.config import MemoryConfig
from famcli.core.generate import generate
from famcli.core.memory import register
from famcli.core.memory.base import Memory, MemoryState
from famcli.core.positions import rotate
from famcli.documents.boilerplate import clean_text
from famcli.documents.registry import open_document
from famcli.jobs.session import Session
from famcli.models.loading import load_model

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FACTS = (  # (fact, question ending in the words the answer follows, answer), {k} a 5-digit key, {name} a person
    ("The pass key is {k}. Remember it. {k} is the pass key. ",
     "\n\nQuestion: What is the pass key?\nAnswer: The pass key is", "{k}"),
    ("The code of the blue locker is {k}. Remember it. The blue locker's code is {k}. ",
     "\n\nQuestion: What is the code of the blue locker?\nAnswer: The code of the blue locker is", "{k}"),
    ("The night porter of the hotel was called {name}. Remember it. The night porter was {name}. ",
     "\n\nQuestion: What was the night porter of the hotel called?\nAnswer: The night porter was called",
     "{name}"),
)
NAMES = ("Osric Vellani", "Tamsin Quarrie", "Bertil Hanrahan", "Ines Okonkwo", "Corentin Mabry", "Yusra Delahunt")
HEADER = "Read the text and remember the facts in it.\n\n"


@dataclass
class OracleState(MemoryState):
    kept_k: torch.Tensor  # (L, Hkv, N, D) unrotated keys, in order
    kept_pos: torch.Tensor  # (N,) their document positions (-1: empty)
    keep_raw_k: torch.Tensor  # (L, Hkv, B, D) the block's tokens
    keep_raw_v: torch.Tensor
    keep_pos: torch.Tensor  # (1,)


class Keep(Memory):
    """BSWA + N rows kept by a score: the first `sink` tokens always, then the best by `score(position)`."""

    within_block = ("keep_raw_k", "keep_raw_v", "keep_pos")
    N, SINK = 32, 4
    score = staticmethod(lambda positions: torch.zeros(len(positions)))  # set by the experiment

    @classmethod
    def rows(cls, config) -> int:
        return cls.N

    def init_state(self) -> OracleState:
        e, N, B = self.engine, self.n_rows, self.config.block_size
        kv = dict(dtype=e.param.dtype, device=e.param.device)
        return OracleState(torch.zeros(e.n_layers, e.n_kv, N, e.head_dim, **kv), torch.full((N,), -1, dtype=torch.long),
                           torch.zeros(e.n_layers, e.n_kv, B, e.head_dim, **kv),
                           torch.zeros(e.n_layers, e.n_kv, B, e.head_dim, **kv), torch.zeros(1, dtype=torch.long))

    def prepare(self, state, plan) -> None:
        from famcli import kernels

        filled = int((state.mem.kept_pos >= 0).sum())
        plan.valid[:filled] = True  # rows not yet filled stay hidden
        plan.valid[filled:self.n_rows] = False
        plan.bias = kernels.attention_bias(plan.valid, plan.c, plan.base, plan.offset,
                                           self.engine.n_heads // self.engine.n_kv, self.engine.param.dtype)

    def begin(self, state, plan) -> None:
        """Rotate the kept keys to the positions just before the window."""
        if plan.offset:
            return
        N = self.n_rows
        window_start = max(0, plan.tau - self.engine.lookback) * self.config.block_size
        cos, sin = self.engine.rotary.tables(max(0, window_start - N), N)
        for l in range(self.engine.n_layers):
            state.k[l][:, :N] = rotate(state.mem.kept_k[l], cos, sin)

    def observe(self, l, state, plan, k, v) -> None:
        state.mem.keep_raw_k[l][:, plan.offset:plan.offset + plan.c] = k
        state.mem.keep_raw_v[l][:, plan.offset:plan.offset + plan.c] = v

    def commit(self, state, new) -> None:
        """The block is complete: keep the best N of the rows held and the block's tokens, in document order."""
        B = self.config.block_size
        start = state.n_tokens // B * B  # the engine counts the block's last chunk after this
        held = state.mem.kept_pos
        cand_pos = torch.cat([held[held >= 0], torch.arange(start, start + B)])
        self.keep_best(state, cand_pos, self.score(cand_pos.tolist()).float())

    def keep_best(self, state, cand_pos: torch.Tensor, s: torch.Tensor) -> None:
        """Keep the N best of the held rows and the block's raw tokens (candidates in that order), in order."""
        held, N = state.mem.kept_pos, self.n_rows
        s = s + 1e6 * (cand_pos < self.SINK).float()  # the attention sinks stay
        order = torch.argsort(s, descending=True, stable=True)[:N]
        keep = order[torch.argsort(cand_pos[order])]
        n_held = int((held >= 0).sum())
        for l in range(self.engine.n_layers):
            ks = torch.cat([state.mem.kept_k[l][:, :n_held], state.mem.keep_raw_k[l]], dim=1)
            vs = torch.cat([state.v[l][:, :n_held], state.mem.keep_raw_v[l]], dim=1)
            state.mem.kept_k[l][:, :len(keep)] = ks[:, keep]
            state.v[l][:, :len(keep)] = vs[:, keep]
        held.fill_(-1)
        held[:len(keep)] = cand_pos[keep]
        state.updates += 1


def filler_ids(session, rng: random.Random, n: int) -> list[int]:
    """n tokens of a random stretch of a random corpus book (boilerplate out)."""
    books = sorted(CORPUS.glob("*.txt"))
    text = "".join(clean_text(open_document(str(rng.choice(books))).pieces))
    start = rng.randrange(0, max(1, len(text) - 6 * n))
    ids = session.tokens.encode(text[start:start + 6 * n])
    return ids[:n]


def document(session, rng: random.Random, updates: int, fact: int):
    """(ids, the needle's token range, question ids, answer, needle ids): a header, half a block of prose, the
    fact, then prose until exactly `updates` blocks follow the fact's block."""
    B = session.config.block_size
    key, name = rng.randrange(10000, 99999), rng.choice(NAMES)
    said, asked, answer = (t.format(k=key, name=name) for t in FACTS[fact])
    enc = session.tokens.encode
    head, needle, question = enc(HEADER), enc(" " + said), enc(asked)
    lead = filler_ids(session, rng, B)  # the needle sits inside the first block after some prose
    ids = head + lead[:B // 2] + needle
    at = (len(head) + B // 2, len(head) + B // 2 + len(needle))
    ids += filler_ids(session, rng, (-len(ids)) % B + updates * B)  # the needle's block ends, then k more
    return ids, at, question, answer, needle


def trial(session, rng: random.Random, updates: int, fact: int) -> dict:
    ids, at, question, answer, _ = document(session, rng, updates, fact)
    Keep.score = staticmethod(lambda pos: torch.tensor([1.0 if at[0] <= p < at[1] else 0.0 for p in pos]))
    state = session.engine.new_state()
    t0 = time.perf_counter()
    session.read_ids(state, ids)
    out = session.loaded.tokenizer.decode(generate(session.answerer(), state, question, 10)).strip()
    right = re.search(rf"(?<![\w]){re.escape(answer)}(?![\w])", out) is not None
    kept = sorted(set(state.mem.kept_pos.tolist()) - {-1}) if hasattr(state.mem, "kept_pos") else []
    return {"updates": updates, "fact": fact, "answer": answer, "said": out, "right": right,
            "needle_kept": all(p in kept for p in range(*at)) if kept else None, "tokens": len(ids),
            "seconds": round(time.perf_counter() - t0, 1)}


def arguments(p: argparse.ArgumentParser, updates: str, trials: int, rows: int) -> argparse.Namespace:
    p.add_argument("--updates", default=updates)
    p.add_argument("--trials", type=int, default=trials)
    p.add_argument("--rows", type=int, default=rows)
    p.add_argument("--block-size", type=int, default=256)
    p.add_argument("--segments", type=int, default=3)
    return p.parse_args()


def run_cells(names: list[str], updates: str, trials: int, seed: int, run, key: str) -> tuple[list, dict]:
    """run(name, rng, updates, fact) for every name, number of updates and trial (the facts in turn), each result
    printed on stderr as it comes; returns the results and the table of right answers per name and updates."""
    results, table = [], {}
    for name in names:
        for u in (int(x) for x in updates.split(",")):
            rng = random.Random(seed + u)
            for t in range(trials):
                r = {key: name, **run(name, rng, u, t % len(FACTS))}
                results.append(r)
                table.setdefault(name, {}).setdefault(u, []).append(r["right"])
                print(json.dumps(r), file=sys.stderr, flush=True)
    return results, {n: {u: f"{sum(v)}/{len(v)}" for u, v in d.items()} for n, d in table.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--modes", default="keep-oracle,sink")
    args = arguments(p, "8,64,256", 4, 32)
    Keep.N = args.rows
    register("keep-oracle", Keep)
    loaded = load_model(None, dtype="fp32")
    sessions = {}

    def run(mode, rng, updates, fact):
        if mode not in sessions:
            extra = {"sink_tokens": 4} if mode == "sink" else {}
            config = MemoryConfig(mode=mode, block_size=args.block_size, memory_segments=args.segments, **extra)
            sessions[mode] = Session(loaded, config, recall=None)
        return trial(sessions[mode], rng, updates, fact)

    results, right = run_cells(args.modes.split(","), args.updates, args.trials, 0, run, "mode")
    print(json.dumps({"rows": args.rows, "block_size": args.block_size, "segments": args.segments,
                      "right": right, "trials": results}, indent=2))


if __name__ == "__main__":
    main()
