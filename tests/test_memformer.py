"""Memformer slot memory (design doc section 7): reader, writer, bounded slots, MRBP, state files, CLI."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import tiny_model

from famcli.common.errors import ConfigError
from famcli.core.adapter import load_adapter
from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine
from famcli.core.memory.memformer import SlotWriter, rms
from famcli.training.mrbp import bptt, cut_blocks, mrbp

CONFIG = MemoryConfig(mode="memformer", block_size=16, memory_segments=1, fam_length=4)


def ids_of(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n,), generator=g).tolist()


def test_shapes_and_state_size(llama):
    engine = Engine(llama, CONFIG)
    state = engine.new_state()
    assert state.mem.slots.shape == (2, 4, 64) and state.mem.slots.dtype == torch.float32
    assert state.k.shape[2] == 4 + 2 * 16  # slots, then a ring of two block slots; no sink, no FAM
    assert not hasattr(state.mem, "fam") and not hasattr(state.mem, "q_fam")
    engine.feed(state, ids_of(16 * 2))
    size = state.nbytes()
    engine.feed(state, ids_of(16 * 40))
    assert state.nbytes() == size and state.updates == 42
    with pytest.raises(ConfigError, match="slot"):
        MemoryConfig(mode="memformer", fam_length=0)


def test_block_tokens_read_the_slots(llama):
    """Reader: the slots sit in the block's attention; other slots give other outputs, the ring's own
    tokens are untouched, and with memory segments 0 the slots are all a block sees of the past."""
    engine = Engine(llama, CONFIG.replace(memory_segments=0))
    ids = ids_of(16)
    a = engine.feed(engine.new_state(), ids, all_logits=True)
    state = engine.new_state()
    state.mem.slots = state.mem.slots + torch.randn_like(state.mem.slots)
    b = engine.feed(state, ids, all_logits=True)
    assert (a - b).abs().max() > 1e-3
    # a document's earlier blocks reach a later block only through the slots when m = 0
    first, second = ids_of(16, seed=1), ids_of(16, seed=2)
    s1, s2 = engine.new_state(), engine.new_state()
    engine.feed(s1, first)
    engine.feed(s2, ids_of(16, seed=3))
    s2.mem.slots = s1.mem.slots.clone()  # same slots, different text before
    torch.testing.assert_close(engine.feed(s1, second, all_logits=True), engine.feed(s2, second, all_logits=True))


def test_writer_slots_do_not_see_each_other():
    """A slot's update depends on itself and the block, never on another slot."""
    torch.manual_seed(0)
    writer = SlotWriter.initial(torch.randn(1, 5, 32))
    with torch.no_grad():
        writer.gate_w.normal_(0, 0.3)
    slots, x = torch.randn(5, 32), torch.randn(9, 32)
    out = writer.update(0, slots, writer.accumulate(0, slots, x, None))
    changed = slots.clone()
    changed[3] = torch.randn(32) * 4
    out2 = writer.update(0, changed, writer.accumulate(0, changed, x, None))
    keep = [0, 1, 2, 4]
    torch.testing.assert_close(out[keep], out2[keep])
    assert (out[3] - out2[3]).abs().max() > 1e-3
    # the block matters
    out3 = writer.update(0, slots, writer.accumulate(0, slots, torch.randn(9, 32), None))
    assert (out - out3).abs().max() > 1e-3


def test_writer_online_softmax_equals_one_pass():
    torch.manual_seed(1)
    writer = SlotWriter.initial(torch.randn(1, 3, 16))
    slots, x = torch.randn(3, 16), torch.randn(20, 16) * 3
    whole = writer.update(0, slots, writer.accumulate(0, slots, x, None))
    acc = None
    for part in x.split([1, 7, 5, 7]):
        acc = writer.accumulate(0, slots, part, acc)
    torch.testing.assert_close(writer.update(0, slots, acc), whole)
    # against the formula written out: softmax over [own key, block keys]
    u, h = rms(slots), rms(x)
    q = u @ writer.wq[0] * torch.exp(-writer.log_temp[0]) / writer.wq.shape[-1] ** 0.5
    scores = torch.cat([(q * (u @ writer.wk[0])).sum(-1, keepdim=True), q @ (h @ writer.wk[0]).T], 1)
    p = scores.softmax(1)
    content = p[:, :1] * u + p[:, 1:] @ h
    gate = torch.sigmoid(torch.cat([u, content], -1) @ writer.gate_w[0] + writer.gate_b[0])[:, None]
    torch.testing.assert_close(whole, (1 - gate) * slots + gate * content)


def test_slot_norms_stay_bounded_over_10k_blocks():
    """Ten thousand updates with huge, adversarial inputs and a wide-open gate: every slot stays within
    max(its start, sqrt(d)) in norm (convex gated update of unit-RMS vectors)."""
    torch.manual_seed(2)
    d = 32
    writer = SlotWriter.initial(torch.randn(1, 4, d) * 3)
    with torch.no_grad():
        writer.gate_b.fill_(4.0)
        writer.gate_w.normal_(0, 1.0)
    slots = writer.init_slots[0].detach().clone()
    bound = max(slots.norm(dim=-1).max().item(), d ** 0.5) * (1 + 1e-4)
    with torch.no_grad():
        for step in range(10_000):
            x = torch.randn(8, d) * (10.0 ** (step % 7))  # inputs from 1 to 1e6 in size
            slots = writer.update(0, slots, writer.accumulate(0, slots, x, None))
            assert slots.norm(dim=-1).max().item() <= bound
    assert torch.isfinite(slots).all()


def test_slot_norms_bounded_in_the_engine_over_many_blocks(llama):
    engine = Engine(llama, CONFIG.replace(block_size=4))
    state = engine.new_state()
    start = state.mem.slots.norm(dim=-1).max().item()
    ids = ids_of(4 * 2000, seed=4)
    engine.feed(state, ids)
    assert state.updates == 2000
    assert state.mem.slots.norm(dim=-1).max().item() <= max(start, 64 ** 0.5) * (1 + 1e-4)


@pytest.mark.parametrize("segments", [0, 1])
def test_chunking_and_generation_order_do_not_change_memformer(llama, segments):
    engine = Engine(llama, CONFIG.replace(memory_segments=segments))
    ids = ids_of(100)
    whole_state = engine.new_state()
    whole = engine.feed(whole_state, ids, all_logits=True)
    state, parts, start = engine.new_state(), [], 0
    for size in (1, 5, 13, 30, 1, 50):
        parts.append(engine.feed(state, ids[start:start + size], all_logits=True))
        start += size
    torch.testing.assert_close(torch.cat(parts), whole, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(state.mem.slots, whole_state.mem.slots, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("split", [16, 21, 40])
def test_memformer_state_save_load_round_trip(llama, tmp_path, split):
    engine = Engine(llama, CONFIG)
    ids = ids_of(90)
    straight = engine.feed(engine.new_state(), ids, all_logits=True)[split:]
    state = engine.new_state()
    engine.feed(state, ids[:split])
    engine.save_state(state, tmp_path / "s.safetensors")
    resumed = engine.load_state(tmp_path / "s.safetensors")
    assert resumed.mem.slots.dtype == torch.float32 and resumed.mem.w_acc is not None
    torch.testing.assert_close(engine.feed(resumed, ids[split:], all_logits=True), straight, atol=1e-5, rtol=1e-5)


def _grads(method, segments):
    model = tiny_model("llama").requires_grad_(True)
    engine = Engine(model, CONFIG.replace(block_size=8, memory_segments=segments))
    writer = engine.memory.writer.requires_grad_(True)
    ids = ids_of(45, seed=6)
    weights = [0.0] * 30 + [1.0] * 15
    weights[3] = 0.5
    loss, final = method(engine, writer.init_slots, cut_blocks(ids, weights, 8))
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    grads |= {f"writer.{n}": p.grad.clone() for n, p in writer.named_parameters() if p.grad is not None}
    return loss, final, grads


@pytest.mark.parametrize("segments", [0, 1])
def test_mrbp_equals_bptt_for_memformer(segments):
    loss_a, final_a, ga = _grads(mrbp, segments)
    loss_b, final_b, gb = _grads(bptt, segments)
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    assert ga.keys() == gb.keys()
    assert {"writer.wq", "writer.wk", "writer.gate_w", "writer.init_slots", "writer.log_temp"} <= ga.keys()
    for name in ga:
        torch.testing.assert_close(ga[name], gb[name], rtol=1e-4, atol=1e-6, msg=name)
    torch.testing.assert_close(final_a, final_b, atol=1e-5, rtol=1e-5)
    assert ga["writer.init_slots"].abs().sum() > 0  # through 5 writes, back to the initial slots


def test_train_and_use_memformer_from_the_cli(tiny_model_dirs, tmp_path, capsys):
    from famcli.__main__ import main

    model = str(tiny_model_dirs["llama"])
    out = tmp_path / "mf.safetensors"
    assert main(["train", "--memory", "memformer", "--model", model, "--out", str(out), "--steps", "3",
                 "--block-size", "16", "--slots", "4", "--max-blocks", "2", "--rank", "2", "--dtype", "fp32",
                 "--quiet"]) == 0
    adapter = load_adapter(out)
    assert adapter.mode == "memformer" and "fam_prompt" not in adapter.memory
    assert adapter.memory["memformer.init_slots"].shape == (2, 4, 64)
    # trained weights moved away from the seeded start
    fresh = SlotWriter.initial(torch.zeros(2, 4, 64))
    assert not torch.equal(adapter.memory["memformer.wq"].float(), fresh.wq.detach())
    capsys.readouterr()
    assert main(["passkey", "--model", model, "--adapter", str(out), "--length", "100", "--depth", "0.5",
                 "--trials", "1", "--memory", "memformer,bswa", "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["accuracy"]) == {"memformer", "bswa"}
    assert result["memory"]["memformer"]["fam_length"] == 4
    # a memformer adapter cannot serve FAM, and the other way round
    assert main(["passkey", "--model", model, "--adapter", str(out), "--length", "100", "--memory", "fam",
                 "--quiet"]) == 1
    assert "trained for --memory memformer" in capsys.readouterr().err
    # without an adapter it runs, and says the writer is untrained
    doc = tmp_path / "doc.txt"
    doc.write_text("the pass key is 123. the grass is green. " * 20)
    assert main(["ask", str(doc), "what is the pass key?", "--model", model, "--memory", "memformer",
                 "--adapter", "none", "--max-tokens", "3", "--dtype", "fp32", "--json"]) == 0
    captured = capsys.readouterr()
    assert "untrained writer" in captured.err
    assert json.loads(captured.out)["memory"]["mode"] == "memformer"
