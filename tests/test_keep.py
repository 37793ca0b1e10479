"""The keep memory (famcli.core.memory.keep): which rows it keeps when a question is known, and that a state with a
question still reads the same in any chunking and after save/load. The registry tests (test_memory.py) cover
it without a question; the default model's pass keys are in test_default_model.py."""

from __future__ import annotations

import random

import pytest
import torch

from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine
from famcli.core.memory.keep import Vocabulary

END, ASKED, ANSWER = 0, (250, 251), 240  # id 0 ends a sentence; the question's words; the answer


def keep_engine(llama, **changes) -> Engine:
    engine = Engine(llama, MemoryConfig(**({"mode": "keep", "block_size": 32, "memory_segments": 1, "fam_length": 16,
                                            "sink_tokens": 2} | changes)))
    ends = torch.zeros(256, dtype=torch.bool)
    ends[END] = True
    content = torch.ones(256, dtype=torch.bool)
    content[END] = False
    engine.memory.vocabulary = Vocabulary(ends, torch.arange(256), content)
    return engine


def filler(n: int, rng: random.Random) -> list[int]:
    """Sentences of 5-9 ids from 10-199, each ended by END."""
    out = []
    while len(out) < n:
        out += [rng.randrange(10, 200) for _ in range(rng.randrange(5, 10))] + [END]
    return out[:n]


def document(at: int, blocks: int, seed: int = 0) -> tuple[list[int], range]:
    """`blocks` blocks of 32 with the fact sentence (the asked words, then the answer) starting at `at`."""
    rng = random.Random(seed)
    fact = [END, 30, ASKED[0], 31, ASKED[1], 32, ANSWER, END]
    ids = filler(at - 1, rng) + fact
    ids += filler(32 * blocks - len(ids), rng)
    return ids, range(at, at + len(fact) - 1)


def kept(engine, ids, question) -> set[int]:
    state = engine.new_state()
    if question:
        engine.memory.question(state, list(question))
    engine.feed(state, ids)
    return set(state.mem.kept_pos.tolist()) - {-1}


@pytest.mark.parametrize("at", [40, 58])  # inside block 1; across the end of block 1 (its answer in block 2)
def test_the_sentence_with_the_question_words_is_kept_whole_through_many_blocks(llama, at):
    engine = keep_engine(llama)
    ids, fact = document(at, 40)
    rows = kept(engine, ids, ASKED)
    assert set(fact) <= rows and {0, 1} <= rows  # the fact and the sink tokens
    assert kept(engine, ids, None) == set(range(16))  # no question: the opening


def test_a_rarer_question_word_outweighs_a_common_one(llama):
    """Both sentences hold one question word; the one used once in the text beats the one used in every block."""
    engine = keep_engine(llama, fam_length=8)
    rng = random.Random(3)
    ids = filler(39, rng) + [END, 33, ASKED[0], 34, ANSWER, END]  # the rare word
    for _ in range(20):
        ids += filler(27, rng) + [35, ASKED[1], END]  # the common word, once a block
    ids += filler(32 - len(ids) % 32 + 32 * 3, rng)
    rows = kept(engine, ids, ASKED)
    assert {40, 41, 42, 43, 44} <= rows


def test_the_question_reads_the_same_in_any_chunking_and_after_save_load(llama, tmp_path):
    engine = keep_engine(llama)
    ids, _ = document(50, 12, seed=5)
    whole_state = engine.new_state()
    engine.memory.question(whole_state, list(ASKED))
    whole = engine.feed(whole_state, ids, all_logits=True)
    state = engine.new_state()
    engine.memory.question(state, list(ASKED))
    parts, start = [], 0
    for size in (7, 1, 40, 13, 64, 100):
        parts.append(engine.feed(state, ids[start:start + size], all_logits=True))
        start += size
    engine.save_state(state, tmp_path / "s.safetensors")
    resumed = engine.load_state(tmp_path / "s.safetensors")
    assert torch.equal(resumed.mem.words, state.mem.words) and resumed.mem.kept_pos.dtype == torch.long
    parts.append(engine.feed(resumed, ids[start:], all_logits=True))
    torch.testing.assert_close(torch.cat(parts), whole, atol=1e-4, rtol=1e-4)
    assert torch.equal(resumed.mem.kept_pos, whole_state.mem.kept_pos)


def test_rows_still_in_the_window_stay_hidden(llama):
    """A short reading sees exactly what the plain sliding window sees: no token twice."""
    ids, _ = document(40, 2)
    keep = keep_engine(llama)
    bswa = Engine(llama, MemoryConfig(mode="bswa", block_size=32, memory_segments=1))
    torch.testing.assert_close(keep.feed(keep.new_state(), ids, all_logits=True),
                               bswa.feed(bswa.new_state(), ids, all_logits=True), atol=1e-5, rtol=1e-5)


def test_keep_needs_rows_beyond_its_sinks():
    with pytest.raises(Exception, match="fam-length above its 4 sink tokens"):
        MemoryConfig(mode="keep", fam_length=4, sink_tokens=4)


def test_auto_reads_with_keep_when_the_question_comes_first(tiny):
    from famcli.models.loading import load_model
    from famcli.models.runtime import resolve

    loaded = load_model(tiny)
    config = resolve(loaded, "auto", question=True)[0]
    assert (config.mode, config.fam_length, config.sink_tokens) == ("keep", 64, 32)  # keep's own defaults
    assert resolve(loaded, "auto")[0].mode == "sink"  # no question: nothing to choose by
    assert resolve(loaded, "keep", fam_length=40)[0].fam_length == 40  # the option wins


def test_a_state_file_with_float_positions_is_refused(llama, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from famcli.common.errors import UserError

    engine = keep_engine(llama)
    state = engine.new_state()
    engine.memory.question(state, list(ASKED))
    engine.feed(state, document(40, 3)[0])
    engine.save_state(state, tmp_path / "s.safetensors")
    with safe_open(str(tmp_path / "s.safetensors"), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {n: f.get_tensor(n) for n in f.keys()}
    tensors["kept_pos"] = tensors["kept_pos"].float()
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(UserError, match="'kept_pos' holds torch.float32, not an integer type"):
        engine.load_state(tmp_path / "bad.safetensors")
