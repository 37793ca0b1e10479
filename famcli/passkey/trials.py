"""The passkey check (docs/design.md, section 8): a number hidden at a depth in filler, asked for at the end."""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field

from famcli.common.errors import UserError
from famcli.common.limits import MAX_PASSKEY_CELLS, MAX_PASSKEY_TOKENS, LimitError
from famcli.core.generate import Sampling, generate
from famcli.jobs.session import Session

HEADER = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
          "I will quiz you about the important information there.\n\n")
FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
NEEDLE = "The pass key is {key}. Remember it. {key} is the pass key. "
QUESTION = "\n\nWhat is the pass key? The pass key is"
ASKED = "What is the pass key?"  # what the recall index scores passages against


def parse_lengths(text: str) -> list[int]:
    """`4k,16k,64k` or a range `2k-16k` (doubling) into token counts."""
    def one(t: str) -> int:
        t = t.strip().lower()
        scale = 1000 if t.endswith("k") else 1_000_000 if t.endswith("m") else 1
        value = float(t.rstrip("km")) * scale
        if value < 64 or value != value:
            raise UserError(f"passkey length {t!r} is too small (at least 64 tokens)")
        if value > MAX_PASSKEY_TOKENS:
            raise LimitError(f"passkey length {t!r} is past famcli's limit of {MAX_PASSKEY_TOKENS:,} tokens")
        return int(value)

    try:
        if "-" in text and "," not in text:
            lo, hi = (one(t) for t in text.split("-", 1))
            out = []
            while lo <= hi:
                out.append(lo)
                lo *= 2
            return out
        return [one(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise UserError(f"bad --length {text!r}: {exc}") from None


def check_cells(lengths: list[int], depths: list[float], trials: int, modes: list[str]) -> None:
    """A run of at most MAX_PASSKEY_CELLS documents (checked before any is made)."""
    cells = len(lengths) * len(depths) * trials * max(1, len(modes))
    if cells > MAX_PASSKEY_CELLS:
        raise LimitError(f"{cells:,} passkey documents (lengths x depths x trials x memories) are past famcli's "
                         f"limit of {MAX_PASSKEY_CELLS:,}")


def parse_depths(text: str) -> list[float]:
    try:
        depths = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UserError(f"bad --depth {text!r}: give fractions like 0.1,0.5,0.9") from None
    if not depths or any(not 0 <= d <= 1 for d in depths):
        raise UserError(f"bad --depth {text!r}: fractions must lie in [0, 1]")
    return depths


@dataclass
class Trial:
    mode: str
    length: int
    depth: float
    key: int
    answer: str
    tokens: int
    passages: list = field(default_factory=list)
    answer_seconds: float | None = None  # with recall: choosing the passages and reading them to answer

    @property
    def correct(self) -> bool:
        return re.search(rf"(?<!\d){self.key}(?!\d)", self.answer) is not None

    @property
    def digits(self) -> float:
        """Partial recall: the share of the key's digits that the answer's first number has in the same place
        (a memory that holds "4...." of 46408 scores 0.2; chance for the first digit is about 1 in 4)."""
        found = re.search(r"\d+", self.answer)
        if found is None:
            return 0.0
        key = str(self.key)
        return sum(a == b for a, b in zip(key, found.group())) / len(key)


def document_ids(session: Session, length: int, depth: float, key: int) -> list[int]:
    """Header + filler with the needle at `depth`, about `length` tokens in all with the question."""
    enc = session.tokens.encode
    head, needle, question, filler = enc(HEADER), enc(NEEDLE.format(key=key)), enc(QUESTION), enc(FILLER)
    room = max(0, length - len(head) - len(needle) - len(question))
    body = (filler * (room // len(filler) + 1))[:room]
    cut = int(round(depth * len(body) / len(filler))) * len(filler)
    cut = min(cut, len(body) // len(filler) * len(filler))
    return head + body[:cut] + needle + body[cut:] + question


def run_trial(session: Session, length: int, depth: float, key: int, progress=None, ids=None) -> Trial:
    """Read the document through the memory and answer. With recall the question is known before reading
    (constant memory), and the answer is read from the header, the best passages, the recent window and
    the question. `ids`: the document, when it is not the standard filler's."""
    ids = ids if ids is not None else document_ids(session, length, depth, key)
    state = session.new_state(ASKED)
    if session.recall is None:
        session.read_ids(state, ids[:-1], progress)
        answer_ids = generate(session.answerer(), state, ids[-1:], 8)
        answer = session.loaded.tokenizer.decode(answer_ids)
        return Trial(session.config.mode, length, depth, key, answer.strip(), len(ids))
    question = session.tokens.encode(QUESTION)
    body = ids[:len(ids) - len(question)]
    state.recall = session.lookup.new_index(ASKED)
    session.read_ids(state, body, progress)
    state.recall.finish()
    t0 = time.perf_counter()
    prompt, passages = session.lookup.recall_prompt(state.recall, ASKED, HEADER, QUESTION, 8)
    answer = session.answer_from(prompt, 8, Sampling(), stop=())
    return Trial(session.config.mode, length, depth, key, answer.strip(), len(ids),
                 [p.to_dict() for p in passages], round(time.perf_counter() - t0, 2))


def compare(base, modes: list[str], lengths: list[int], depths: list[float], trials: int, seed: int = 0,
            sizes: dict | None = None, adapter: str = "auto", recall=None, reporter=None) -> tuple[list, dict, object]:
    """Every memory mode on the same keys: (trials, configs by mode name, the adapter used or None).

    full, sink and bswa always run the base model (a fair comparison); fam and memformer run it with the
    adapter merged, a copy made once, so `base` stays the base model and nothing is loaded again."""
    import dataclasses

    from famcli.core.config import ZERO_SHOT
    from famcli.core.engine import untrained_memory
    from famcli.core.memory import trainable_modes
    from famcli.jobs.report import Silent, note_untrained
    from famcli.models.runtime import resolve, with_adapter

    reporter = reporter or Silent()
    results, configs, tuned = [], {}, None
    for label in modes:
        baseline = label not in (*trainable_modes(), "auto", ZERO_SHOT)
        config, found = resolve(base, label, "none" if baseline else adapter, True, **(sizes or {}))
        if found is not None and (tuned is None or tuned.adapter is not found):
            tuned = with_adapter(base, found, keep_base=True)
        loaded = tuned if found is not None else base
        name = label if label == ZERO_SHOT else config.mode
        if label != ZERO_SHOT and untrained_memory(loaded, config):
            note_untrained(reporter, config)
        configs[name] = config
        session = Session(loaded, config, recall)
        for n in lengths:
            if session.engine.max_tokens is not None and n > session.engine.max_tokens:
                reporter.note(f"Note: {name} skips {n:,} tokens (past the {session.engine.max_tokens:,}-token window)")
                continue
            for d in depths:
                for key in keys_for(seed + n + int(d * 1000), trials):
                    with reporter.reading(n, f"{name} {n / 1000:g}k depth {d:g}", config.block_size) as bar:
                        results.append(dataclasses.replace(run_trial(session, n, d, key, bar), mode=name))
    return results, configs, None if tuned is None else tuned.adapter


def document_trial(session: Session, path: str, length: int | None = None, depth: float = 0.5,
                   seed: int = 0) -> dict:
    """A pass key hidden at `depth` in a document's own text (its first `length` tokens, all of it by default)
    and asked for at the end: does this memory find it in text like the user's? The object `famcli batch
    passkey` writes per document."""
    from famcli.documents.registry import DocumentError, open_document

    enc, key = session.tokens.encode, keys_for(seed, 1)[0]
    body = [i for piece in session.tokens.stream(open_document(path).pieces) for i in piece]
    head, needle, question = enc(HEADER), enc(NEEDLE.format(key=key)), enc(QUESTION)
    body = body[:max(0, length - len(head) - len(needle) - len(question))] if length else body
    if not body:
        raise DocumentError(f"{path} holds no text")
    cut = int(round(depth * len(body)))
    ids = head + body[:cut] + needle + body[cut:] + question
    trial = run_trial(session, len(ids), depth, key, ids=ids)
    return {"command": "passkey", "key": key, "depth": depth, "answer": trial.answer, "correct": trial.correct,
            "digits": trial.digits, "tokens_read": trial.tokens, "passages": trial.passages,
            "memory": session.config.to_dict(), "model": session.loaded.name}


def keys_for(seed: int, trials: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 50000) for _ in range(trials)]


def accuracy_table(trials: list[Trial]) -> dict:
    """{mode: {length: {depth: accuracy}}}"""
    table: dict = {}
    for t in trials:
        cell = table.setdefault(t.mode, {}).setdefault(t.length, {}).setdefault(t.depth, [0, 0])
        cell[0] += t.correct
        cell[1] += 1
    return {m: {n: {d: c[0] / c[1] for d, c in row.items()} for n, row in rows.items()} for m, rows in table.items()}


def digits_table(trials: list[Trial]) -> dict:
    """{mode: {length: mean share of key digits right}} over every depth and key."""
    cells: dict = {}
    for t in trials:
        cells.setdefault(t.mode, {}).setdefault(t.length, []).append(t.digits)
    return {m: {n: sum(v) / len(v) for n, v in rows.items()} for m, rows in cells.items()}


def passkey_payload(results: list[Trial], configs: dict, model_name: str, recall, adapter, seconds: float) -> dict:
    """What `famcli passkey --json` prints: the accuracy and digit tables, every trial, and how it was run."""
    import dataclasses

    return {"command": "passkey", "accuracy": accuracy_table(results), "digits_right": digits_table(results),
            "trials": [vars(t) | {"correct": t.correct, "digits": t.digits} for t in results],
            "tokens_read": sum(t.tokens for t in results), "seconds": round(seconds, 1),
            "memory": {name: c.to_dict() for name, c in configs.items()}, "model": model_name,
            "recall": dataclasses.asdict(recall) if recall is not None else None,
            "adapter": str(adapter.path) if adapter is not None else None}


def markdown(table: dict, depths: list[float], digits: dict | None = None) -> str:
    """Accuracy per depth and its mean; with `digits`, the mean share of key digits right (partial recall)."""
    extra = " digits right |" if digits else ""
    lines = ["| memory | tokens | " + " | ".join(f"depth {d:g}" for d in depths) + " | mean |" + extra,
             "|---|---:|" + "---:|" * (len(depths) + 1 + bool(digits))]
    for mode, rows in table.items():
        for length, row in rows.items():
            cells = [row.get(d) for d in depths]
            mean = sum(c for c in cells if c is not None) / max(1, sum(c is not None for c in cells))
            tail = f" {digits[mode][length]:.0%} |" if digits else ""
            lines.append(f"| {mode} | {length:,} | " + " | ".join(f"{c:.0%}" for c in cells) + f" | {mean:.0%} |"
                         + tail)
    return "\n".join(lines)


def plot(table: dict, depths: list[float], path: str, note: str = "") -> None:
    """The needle-in-a-haystack heatmap: one panel per memory mode, depth x length, green = found."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    modes = list(table)
    fig, axes = plt.subplots(1, len(modes), figsize=(4.5 * len(modes), 3.6), squeeze=False)
    for ax, mode in zip(axes[0], modes):
        lengths = list(table[mode])
        grid = np.array([[table[mode][n].get(d, np.nan) for n in lengths] for d in depths])
        image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(lengths)), [f"{n / 1000:g}k" for n in lengths])
        ax.set_yticks(range(len(depths)), [f"{d:g}" for d in depths])
        ax.set_xlabel("document length (tokens)")
        ax.set_ylabel("needle depth")
        ax.set_title(f"passkey: {mode}{note}")
        for (i, j), value in np.ndenumerate(grid):
            if value == value:
                ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="accuracy")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
