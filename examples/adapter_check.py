"""Does a memory adapter (FAM or memformer) damage ordinary use? Base model vs the same model with the adapter
merged:

- perplexity on held-out book text (a book not used in training), read whole within the window (mode full);
- next-token loss on a long held-out text read through the memory (mode sink for the base, the adapter's own
  mode, fam or memformer, with it);
- greedy answers to short instructions (chat template), side by side.

    python examples/adapter_check.py ../shared/corpus/alice.txt [ADAPTER]
"""

import json
import math
import sys

import torch

from famcli.core.config import MemoryConfig
from famcli.core.engine import build_engine
from famcli.jobs.session import Session
from famcli.models.loading import load_model
from famcli.models.prompts import chat_turn
from famcli.models.runtime import prepare

INSTRUCTIONS = ("What is the capital of France?", "Name three colours.", "What is 7 plus 5?",
                "Write one sentence about the sea.", "Who wrote Romeo and Juliet?")


def book_ids(tokenizer, path):
    text = open(path, encoding="utf-8").read().replace("\r\n", "\n")
    start = text.find("*** START OF")
    text = text[text.find("\n", start) + 1:]
    return tokenizer.encode(text[: text.find("*** END OF")], add_special_tokens=False)


def mean_loss(engine, ids, skip=0):
    """Mean next-token loss over ids[skip+1:], read in 256-token pieces (logits never pile up)."""
    state, total, count = engine.new_state(), 0.0, 0
    for start in range(0, len(ids) - 1, 256):
        piece = ids[start:start + 256 + 1]
        logits = engine.feed(state, piece[:-1], all_logits=True)
        keep = max(0, skip - start)
        if keep < len(piece) - 1:
            ce = torch.nn.functional.cross_entropy(logits[keep:], torch.tensor(piece[1 + keep:]), reduction="sum")
            total, count = total + float(ce), count + len(piece) - 1 - keep
    return total / count


def measure(adapter: str):
    loaded = load_model(None)
    ids = book_ids(loaded.tokenizer, sys.argv[1])
    out = {}
    loaded, config = prepare(loaded, "auto" if adapter != "none" else "full", adapter)
    full = build_engine(loaded, MemoryConfig(mode="full", block_size=256))
    windows = [ids[i:i + 2048] for i in range(0, 4 * 2048, 2048)]
    out["perplexity_2k_window"] = math.exp(sum(mean_loss(full, w) for w in windows) / len(windows))
    long_config = config if adapter != "none" else MemoryConfig(mode="sink")
    out["memory_mode"] = long_config.mode
    out["loss_16k_through_memory"] = mean_loss(build_engine(loaded, long_config), ids[20000:36384], skip=1024)
    session = Session(loaded, MemoryConfig(mode="full", block_size=256))
    answers = []
    for q in INSTRUCTIONS:
        answers.append(session.complete(session.engine.new_state(), chat_turn(loaded.tokenizer, q).lstrip(), 32))
    out["answers"] = answers
    return out


if __name__ == "__main__":
    adapter = sys.argv[2] if len(sys.argv) > 2 else "auto"
    print(json.dumps({"base": measure("none"), "adapter": measure(adapter), "instructions": INSTRUCTIONS},
                     indent=1))
