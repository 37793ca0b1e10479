"""The recall index and answering from it (famcli.recall.index, famcli.recall.search) on a tiny random model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_model, tiny_tokenizer

from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine
from famcli.recall.index import (
    QueryCapture,
    RecallConfig,
    RecallIndex,
    attention_scores,
    head_scores,
)
from famcli.recall.search import (
    RecallOptions,
    layout,
    merge,
    rank_fusion,
)
from famcli.recall.text import Passage, bm25_scores, chunk_texts

CONFIG = RecallConfig(chunk_tokens=16, layers=(0, 1), reps=3)


def read(engine: Engine, ids: list[int], pieces: list[int], query=None) -> RecallIndex:
    """Feed ids in pieces of the given sizes (cycled) with a fresh index; returns the finished index."""
    state = engine.new_state()
    state.recall = RecallIndex(CONFIG, engine.n_layers, 256, query)
    at, i = 0, 0
    while at < len(ids):
        n = pieces[i % len(pieces)]
        engine.feed(state, ids[at:at + n])
        at, i = at + n, i + 1
    state.recall.finish()
    return state.recall


@pytest.fixture
def engine():
    return Engine(tiny_model("llama"), MemoryConfig(mode="fam", block_size=24, fam_length=4))


@pytest.fixture
def ids():
    return torch.randint(0, 256, (203,), generator=torch.Generator().manual_seed(3)).tolist()


def question_queries(engine: Engine, ids: list[int]) -> dict:
    state = engine.new_state()
    state.recall = QueryCapture((0, 1))
    engine.feed(state, ids)
    return state.recall.result()


@pytest.mark.parametrize("pieces", [[1], [5, 17], [24], [100], [7, 24, 3]], ids=lambda p: "-".join(map(str, p)))
def test_index_with_any_chunking_equals_one_shot(engine, ids, pieces):
    whole = read(engine, ids, [len(ids)])
    chunked = read(engine, ids, pieces)
    assert list(chunked.ids) == list(whole.ids) == ids
    assert chunked.n_chunks == whole.n_chunks == 13  # 12 full chunks of 16 and one of 11
    for a, b in zip(chunked.reps, whole.reps):
        torch.testing.assert_close(a.float(), b.float(), rtol=2e-3, atol=2e-3)


def test_streaming_scores_equal_offline_scores(engine, ids):
    query = question_queries(engine, ids[:9])
    streamed = read(engine, ids, [24], query)
    offline = read(engine, ids, [len(ids)])
    assert not streamed.reps and offline.reps  # with the question known, no keys outlive their chunk
    online = attention_scores(torch.stack(streamed.head_scores))
    later = attention_scores(head_scores(query, offline.layers, torch.stack(offline.reps)))
    torch.testing.assert_close(online, later, rtol=1e-2, atol=1e-2)
    k = 4
    assert set(online.topk(k).indices.tolist()) == set(later.topk(k).indices.tolist())


def test_representatives_are_the_keys_the_chunk_attends_to_most():
    from famcli.recall.index import representatives

    k = torch.zeros(1, 5, 4)
    k[0, 3] = torch.tensor([1.0, 0, 0, 0])  # the only key aligned with every query
    q = torch.tensor([[1.0, 0, 0, 0]]).expand(2, 5, 4)  # 2 query heads share the key head
    reps = representatives(q, k, 2)
    assert reps.shape == (1, 2, 4) and torch.equal(reps[0, 0], k[0, 3])


def test_index_round_trips_through_a_state_file(engine, ids, tmp_path):
    state = engine.new_state()
    state.recall = RecallIndex(CONFIG, engine.n_layers, 256)
    engine.feed(state, ids)
    state.recall.finish()
    engine.save_state(state, tmp_path / "s.safetensors", recall=state.recall)
    back = engine.load_state(tmp_path / "s.safetensors")
    assert list(back.recall.ids) == ids and back.recall.layers == state.recall.layers
    assert all(torch.equal(a, b) for a, b in zip(back.recall.reps, state.recall.reps))
    assert back.recall.bytes_per_token() == state.recall.bytes_per_token()
    assert state.recall.bytes_per_token()["ids"] == 2


def test_index_costs_the_bytes_it_states(engine, ids):
    index = read(engine, ids, [24])
    per_chunk = len(index.layers) * engine.n_kv * CONFIG.reps * engine.head_dim * 2  # fp16
    assert index.nbytes() == per_chunk * index.n_chunks


def test_a_planted_block_is_retrieved():
    """BM25 finds the one chunk that holds the pass key among filler; the answer prompt holds it."""
    tok = tiny_tokenizer()
    filler = tok.encode("the grass is green. " * 200)
    needle = tok.encode(" the pass key is 123. ")
    at = 700
    ids = filler[:at] + needle + filler[at:]
    index = RecallIndex(CONFIG, 2, 256)
    index.ids.extend(ids)
    scores = bm25_scores(chunk_texts(index, tok.decode), "What is the pass key?")
    assert int(np.argmax(scores)) in range(at // 16, (at + len(needle) - 1) // 16 + 1)
    prompt, passages = layout(index, scores, RecallOptions(blocks=2), [1], [2], [3], budget=300, window=64)
    assert any(p.start <= at and at + len(needle) <= p.end for p in passages)
    assert len(prompt) <= 300 and prompt[0] == 1 and prompt[-1] == 2 and prompt[-65:-1] == ids[-64:]


def test_document_that_fits_is_read_whole():
    index = RecallIndex(CONFIG, 2, 256)
    index.ids.extend(range(100))
    prompt, passages = layout(index, None, RecallOptions(), [7], [8], [9], budget=200, window=64)
    assert prompt == [7, *range(100), 8] and [(p.start, p.end) for p in passages] == [(0, 100)]


def test_document_past_the_whole_limit_is_answered_from_passages():
    """It would fit the window, but past `whole` tokens passages answered better (docs/recall.md)."""
    index = RecallIndex(CONFIG, 2, 256)
    index.ids.extend(range(100))
    scores = np.zeros(index.n_chunks)
    scores[2] = 1.0
    prompt, passages = layout(index, scores, RecallOptions(blocks=1, context=0, whole=50), [7], [8], [9],
                              budget=200, window=16)
    assert [(p.start, p.end) for p in passages] == [(32, 48)]
    assert prompt == [7, *range(32, 48), 9, *range(84, 100), 8]


def test_passages_come_in_document_order_without_overlap():
    index = RecallIndex(CONFIG, 2, 256)
    index.ids.extend(range(1000))
    scores = np.zeros(index.n_chunks)
    scores[[40, 3, 41, 20]] = [4.0, 3.0, 2.0, 1.0]
    prompt, passages = layout(index, scores, RecallOptions(blocks=4, context=4), [], [], [-1], budget=400, window=64)
    spans = [(p.start, p.end) for p in passages]
    assert spans == [(44, 68), (316, 340), (636, 676)]  # chunks 40 and 41 merged with their context
    assert prompt == [*range(44, 68), -1, *range(316, 340), -1, *range(636, 676), -1, *range(936, 1000)]


def test_chunks_without_evidence_are_not_reread():
    index = RecallIndex(CONFIG, 2, 256)
    index.ids.extend(range(1000))
    scores = np.zeros(index.n_chunks)
    scores[10] = 1.0
    _, passages = layout(index, scores, RecallOptions(blocks=8), [], [], [], budget=400, window=64)
    assert [(p.start, p.end) for p in passages] == [(128, 208)]


def test_rank_fusion_needs_evidence():
    fused = rank_fusion(np.array([0.0, 2.0, 1.0]), np.array([3.0, 2.0, 1.0]))
    assert fused.argmax() == 1 and fused[0] > 0 and fused[2] > fused[0] - 1e-9 - 1 / 61


def test_merge_keeps_the_best_score():
    merged = merge([Passage(0, 10, 1.0), Passage(10, 20, 3.0), Passage(30, 40, 2.0)])
    assert [(p.start, p.end, p.score) for p in merged] == [(0, 20, 3.0), (30, 40, 2.0)]


@pytest.mark.parametrize("bad", [{"scorer": "magic"}, {"blocks": 0}, {"context": -1}], ids=["scorer", "blocks", "context"])
def test_recall_options_are_checked(bad):
    with pytest.raises(ValueError):
        RecallOptions(**bad)
