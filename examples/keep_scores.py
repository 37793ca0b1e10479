"""Which training-free score keeps a fact in a fixed-size memory? Issue 36, step 2 (after the oracle of
examples/keep_oracle.py showed the model reads kept rows back: docs/results/training/keep_oracle.json).

The memory is keep_oracle's `Keep` (4 attention sinks + N rows per layer before the ring, raw keys re-rotated
each block to sit just before the window), with one change: a block's tokens compete for the N rows when the
*next* block starts, so that scores needing the block's logits (surprisal) are known. The scores, each computed
on the later half of the layers' queries and keys (RoPE applied at the tokens' own positions), then pooled over the sentence
(each token scores the best of its sentence within 16 tokens either side, so a kept word brings the words
around it, a wider pooling than SnapKV's):

    oracle     the needle's own tokens 1, others 0 (the ceiling)
    h2o        attention received, summed over every query that has seen the token (H2O, arXiv 2306.14048)
    tova       the attention the block's last query gives each candidate, kept rows re-scored (TOVA, 2401.06104)
    surprisal  -log p(token | text before it) under the reading model
    question   the last 4 question tokens' queries (the question read before the document) against each
               token's keys on the later half of the layers, each head's logit standardised over all tokens
               read so far, best head and word (SnapKV, arXiv 2404.14469, with the question known); kept
               rows are scored again each block under the statistics of everything read by then;
               tried against 60 variants on the needle's block (docs/training.md)
    words      the question's content words (stop words out) found in each sentence, each weighted by its
               rarity in the text read so far (log(1 + tokens / (1 + uses))); a sentence scores the sum over
               its distinct question words (a lexical baseline for the question scores)

Candidates are the rows held and the block's tokens; only the block's own queries (and the held rows) enter the
attention scores, not the ring's other blocks. Recall is off; the answer is read after the memory alone.

    python examples/keep_scores.py --scores question,tova,h2o,surprisal --updates 8,64 --trials 6
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time

import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from keep_oracle import Keep, arguments, document, run_cells  # noqa: E402

from famcli.core.config import MemoryConfig  # noqa: E402
from famcli.core.generate import generate  # noqa: E402
from famcli.core.memory import register  # noqa: E402
from famcli.core.positions import rotate  # noqa: E402
from famcli.jobs.session import Session  # noqa: E402
from famcli.models.loading import load_model  # noqa: E402
from famcli.recall.index import QueryCapture  # noqa: E402

SPAN = 16


class Scorer:
    """Stands in as the state's recall observer: keeps the block's pre-rotary q/k at the scoring layers and
    scores the candidates when the memory asks."""

    def __init__(self, engine, kind: str, layers: tuple[int, ...], ends: torch.Tensor, question: dict | None = None):
        self.engine, self.kind, self.layers, self.question, self.ends = engine, kind, layers, question, ends
        self.ids: list[int] = []
        self.words: set[str] = set()  # the question's content words (words)
        self.counts: dict[str, int] = {}
        self.source_raw: dict[int, torch.Tensor] = {}  # question: each token's best neighbour's logits
        self.answer: list[list[int]] = []  # the answer's occurrences in the needle: runs of positions
        self.q = {l: [] for l in layers}
        self.k = {l: [] for l in layers}
        self.static: dict[int, float] = {}  # position -> pooled score (oracle, surprisal, question, h2o sums)
        self.surprisal: dict[int, float] = {}
        self.needle = (0, 0)
        self.stats = None  # question: running sums per (layer, head) of the logits
        self.needle_rank = None

    def observe(self, layer, q, k) -> None:
        if layer in self.q:
            self.q[layer].append(q.detach().float())
            self.k[layer].append(k.detach().float())

    def add_tokens(self, ids) -> None:
        self.ids.extend(ids.tolist())

    def sentences(self, start: int, n: int) -> torch.Tensor:
        """The sentence index of each of n tokens from `start` (a sentence's end belongs to it)."""
        ends = self.ends[torch.tensor(self.ids[start:start + n])].long()
        return torch.cumsum(ends, 0) - ends

    def span_source(self, v: torch.Tensor, start: int) -> torch.Tensor:
        """For each token, the token of its sentence within SPAN either side that scores best (its index): a
        fact is kept as the words around the one the score points at (the answer follows "the pass key is")."""
        sent, at = self.sentences(start, len(v)), torch.arange(len(v))
        near = (sent[:, None] == sent[None, :]) & ((at[:, None] - at[None, :]).abs() <= SPAN)
        return torch.where(near, v[None, :], torch.tensor(float("-inf"))).argmax(1)

    def span_pool(self, v: torch.Tensor, start: int) -> torch.Tensor:
        """Each token scores the best of its sentence within SPAN tokens either side (ties: its own score)."""
        return v[self.span_source(v, start)] + 0.01 * v

    def _rot(self, x, pos):
        cos, sin = self.engine.rotary.tables(0, int(pos.max()) + 1)
        return rotate(x, cos[pos].float(), sin[pos].float())

    def scores(self, state, held_pos, block_pos) -> torch.Tensor:
        """Scores of the held rows then the block's tokens (the block just completed)."""
        e = self.engine
        q = {l: torch.cat(self.q[l], 1)[:, -len(block_pos):] for l in self.layers}
        k = {l: torch.cat(self.k[l], 1)[:, -len(block_pos):] for l in self.layers}
        self.q = {l: [] for l in self.layers}
        self.k = {l: [] for l in self.layers}
        n_held, c = len(held_pos), len(block_pos)
        pos = torch.cat([held_pos, block_pos])
        if self.kind in ("h2o", "tova"):
            g = e.n_heads // e.n_kv
            total = torch.zeros(n_held + c)
            for l in self.layers:
                keys = torch.cat([state.mem["kept_k"][l][:, :n_held].float(), k[l]], 1)  # (Hkv, n, D)
                kr = self._rot(keys, pos).repeat_interleave(g, 0)
                qr = self._rot(q[l], block_pos)
                logits = qr @ kr.transpose(1, 2) / e.head_dim ** 0.5  # (H, c, n)
                causal = torch.ones(c, n_held + c, dtype=torch.bool)
                causal[:, n_held:] = torch.ones(c, c, dtype=torch.bool).tril()
                att = logits.masked_fill(~causal, float("-inf")).softmax(-1)
                total += (att.sum(1) if self.kind == "h2o" else att[:, -1]).mean(0)
            new = total[n_held:]
            if self.kind == "h2o":  # accumulate: the held rows add this block's attention to what they had
                held = torch.tensor([self.static.get(int(p), 0.0) for p in held_pos]) + total[:n_held]
            else:
                held = total[:n_held]
        elif self.kind == "question":
            g = e.n_heads // e.n_kv
            raws = torch.stack([self.question[l].float()[:, -4:] @ k[l].repeat_interleave(g, 0).transpose(1, 2)
                                / e.head_dim ** 0.5 for l in self.layers])  # (layers, H, 4, c): the last 4 words
            seen = raws[..., block_pos >= Keep.SINK]  # the attention sinks' huge logits would swamp the std
            s1, s2, n = seen.sum((2, 3)), (seen ** 2).sum((2, 3)), seen[0, 0].numel()
            a1, a2, an = self.stats if self.stats is not None else (0, 0, 0)
            self.stats = (a1 + s1, a2 + s2, an + n)
            a1, a2, an = self.stats
            mean, std = a1 / an, ((a2 / an - (a1 / an) ** 2).clamp_min(1e-6)) ** 0.5

            def z(r):  # the head and word that point at a token most, standardised by everything read so far
                return ((r - mean[..., None, None]) / std[..., None, None]).amax((1, 2)).mean(0)

            raw_new = z(raws)
            src = self.span_source(raw_new, int(block_pos[0]))
            for i, p in enumerate(block_pos.tolist()):
                self.source_raw[p] = raws[..., int(src[i])]
            new = raw_new[src] + 0.01 * raw_new  # span_pool, keeping where each score came from
            held = z(torch.stack([self.source_raw[int(p)] for p in held_pos], -1)) if n_held else torch.zeros(0)
        elif self.kind == "words":
            new = torch.zeros(c)
            block_ids = self.ids[int(block_pos[0]):int(block_pos[0]) + c]
            for i in block_ids:
                self.counts[FORMS[i]] = self.counts.get(FORMS[i], 0) + 1
            n_read = len(self.ids)
            weight = torch.tensor([math.log(1 + n_read / (1 + self.counts[FORMS[i]])) if FORMS[i] in self.words
                                   else 0.0 for i in block_ids])
            sent = self.sentences(int(block_pos[0]), c)
            for j in torch.unique(sent[weight > 0]).tolist():  # a sentence scores its distinct question words
                members = (sent == j).nonzero()[:, 0].tolist()
                new[members] = sum({FORMS[block_ids[m]]: float(weight[m]) for m in members if weight[m] > 0}.values())
            held = torch.tensor([self.static[int(p)] for p in held_pos])
        else:  # oracle, surprisal
            lo, hi = self.needle
            table = self.surprisal if self.kind == "surprisal" else None
            new = torch.tensor([table.get(int(p), 0.0) if table is not None else float(lo <= p < hi)
                                for p in block_pos])
            held = torch.tensor([self.static[int(p)] for p in held_pos])
        if self.kind not in ("words", "question"):  # these score whole sentences themselves
            new = self.span_pool(new, int(block_pos[0]))
        for p, s in zip(block_pos.tolist(), new.tolist()):
            self.static[p] = s
        if self.kind == "h2o":
            for p, s in zip(held_pos.tolist(), held.tolist()):
                self.static[p] = s
        first = int(block_pos[0])
        if self.answer and first <= self.answer[0][0] < first + c:  # the answer's rank among its block's candidates
            allsc = torch.cat([held, new])
            self.needle_rank = min(max(int((allsc > new[p - first]).sum()) for p in run) for run in self.answer)
        return torch.cat([held, new])


class KeepScored(Keep):
    """Keep, the candidates of a block compared when the next block starts."""

    scorer: Scorer | None = None

    def prepare(self, state, plan) -> None:
        if plan.offset == 0 and plan.tau >= 1:
            self._select(state, plan.tau - 1)
        super().prepare(state, plan)

    def commit(self, state, new) -> None:
        pass

    def _select(self, state, block: int) -> None:
        B = self.config.block_size
        held = state.mem["kept_pos"]
        held_pos = held[:int((held >= 0).sum())].clone()
        block_pos = torch.arange(block * B, block * B + B)
        self.keep_best(state, torch.cat([held_pos, block_pos]), self.scorer.scores(state, held_pos, block_pos))


def trial(session, kind, layers, rng, updates, fact) -> dict:
    engine, B = session.engine, session.config.block_size
    ids, at, question, answer, needle = document(session, rng, updates, fact)
    qcap = None
    if kind == "question":
        probe = engine.new_state()
        probe.recall = QueryCapture(layers)
        engine.feed(probe, question)
        qcap = probe.recall.result()
    scorer = Scorer(engine, kind, layers, ENDS, qcap)
    scorer.needle = at
    from bm25s.stopwords import STOPWORDS_EN_PLUS
    stop = set(STOPWORDS_EN_PLUS) | {"question", "answer"}
    scorer.words = {FORMS[i] for i in question if FORMS[i] and FORMS[i] not in stop and not FORMS[i].isdigit()}
    tok = session.loaded.tokenizer
    ans = [at[0] + i for i, t in enumerate(needle) if tok.decode([t]).strip() and tok.decode([t]).strip() in answer]
    for p in ans:
        if scorer.answer and p == scorer.answer[-1][-1] + 1:
            scorer.answer[-1].append(p)
        else:
            scorer.answer.append([p])
    KeepScored.scorer = scorer
    state = engine.new_state()
    state.recall = scorer
    t0 = time.perf_counter()
    prev = None
    for start in range(0, len(ids), B):
        piece = ids[start:start + B]
        out = engine.feed(state, piece, all_logits=kind == "surprisal")
        if kind == "surprisal":
            logp = torch.log_softmax(out.float(), -1)
            before = torch.cat([prev[None], logp[:-1]]) if prev is not None else logp[:-1]
            first = start if prev is not None else start + 1
            got = before.gather(1, torch.tensor(piece[first - start:])[:, None])[:, 0]
            for i, s in enumerate((-got).tolist()):
                scorer.surprisal[first + i] = s
            prev = logp[-1]
    state.recall = None
    said_out = session.loaded.tokenizer.decode(generate(session.answerer(), state, question, 10)).strip()
    right = re.search(rf"(?<![\w]){re.escape(answer)}(?![\w])", said_out) is not None
    kept = set(state.mem["kept_pos"].tolist()) - {-1}
    return {"score": kind, "updates": updates, "fact": fact, "answer": answer, "said": said_out, "right": right,
            "needle_rank": scorer.needle_rank, "needle_kept": round(sum(p in kept for p in range(*at)) / (at[1] - at[0]), 2),
            "tokens": len(ids), "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scores", default="question,tova,h2o,surprisal")
    p.add_argument("--seed", type=int, default=0)
    args = arguments(p, "8,64", 6, 64)
    KeepScored.N = args.rows
    register("keep-scored", KeepScored)
    loaded = load_model(None, dtype="fp32")
    config = MemoryConfig(mode="keep-scored", block_size=args.block_size, memory_segments=args.segments)
    session = Session(loaded, config, recall=None)
    global ENDS, FORMS
    tok = loaded.tokenizer
    ENDS = torch.tensor([any(ch in tok.decode([i]) for ch in ".!?\n") for i in range(len(tok))])
    FORMS = [re.sub(r"[^\w]", "", tok.decode([i]).lower()) for i in range(len(tok))]
    L = session.engine.n_layers
    layers = tuple(range(L // 2, L))
    results, right = run_cells(args.scores.split(","), args.updates, args.trials, 1000 * args.seed,
                               lambda kind, rng, u, fact: trial(session, kind, layers, rng, u, fact), "score")
    print(json.dumps({"rows": args.rows, "block_size": args.block_size, "segments": args.segments,
                      "layers": list(layers), "span": SPAN, "right": right, "trials": results}, indent=2))


if __name__ == "__main__":
    main()
