"""--dtype int8 (famcli.core.quant): int8 layer weights with per-channel scales and dynamically quantised
activations, against the fp32 engine on tiny random models."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine
from famcli.core.quant import Int8Linear


def read(model, config: MemoryConfig, ids: torch.Tensor, all_logits: bool = True) -> torch.Tensor:
    engine = Engine(model, config)
    return engine.feed(engine.new_state(), ids, all_logits=all_logits)


def test_int8_linear_is_close_to_the_float_product():
    torch.manual_seed(0)
    w, b, x = torch.randn(96, 64) * 0.1, torch.randn(96), torch.randn(5, 7, 64)
    exact = torch.nn.functional.linear(x, w, b)
    got = Int8Linear(w, b)(x)
    assert got.shape == exact.shape and got.dtype == torch.float32
    assert (got - exact).norm() / exact.norm() < 0.02  # 8-bit weights and activations: ~1% error
    assert not torch.equal(got, exact)  # it really is the quantised product


def test_int8_linear_scales_each_row_on_its_own():
    """One token with a peak 1,000x the rest does not coarsen the other tokens' products (per-token scales:
    with one scale per product their 7-bit steps would round them to nothing)."""
    torch.manual_seed(0)
    w, x = torch.randn(48, 64) * 0.1, torch.randn(6, 64)
    x[2, 5] = 3000.0
    exact = torch.nn.functional.linear(x, w)
    got = Int8Linear(w, None)(x)
    for row in range(6):
        assert (got[row] - exact[row]).norm() / exact[row].norm() < 0.03, row


def test_int8_kernels_are_onednn_only_where_it_has_amx(monkeypatch):
    """oneDNN wins only with AMX; fbgemm elsewhere (faster at few rows); a oneDNN cap without AMX counts."""
    from famcli.core import quant

    if not {"fbgemm", "onednn"} <= set(torch.backends.quantized.supported_engines):
        pytest.skip("this torch lacks one of the two engines")
    for amx, cap, expected in [(True, None, "onednn"), (False, None, "fbgemm"), (True, "AVX2", "fbgemm"),
                               (True, "AVX512_CORE_AMX", "onednn")]:
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
        if cap is None:
            monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
        else:
            monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert quant.engine() == expected, (amx, cap)


def test_int8_linear_keeps_the_quantised_engine_setting():
    """Weights are packed for oneDNN where torch has it; the process-wide engine setting is left as it was."""
    before = torch.backends.quantized.engine
    Int8Linear(torch.randn(8, 16), torch.randn(8))
    assert torch.backends.quantized.engine == before


@pytest.mark.parametrize("mode", ["sink", "fam", "bswa"])
def test_int8_engine_tracks_fp32(arch, mode):
    model = tiny_model(arch)
    ids = torch.randint(0, 256, (300,), generator=torch.Generator().manual_seed(1))
    config = MemoryConfig(mode=mode, block_size=64, memory_segments=1)
    exact = read(model, config, ids)
    model._famcli_int8 = True
    assert Engine(model, config).int8
    got = read(model, config, ids)
    assert (got - exact).norm() / exact.norm() < 0.05
    agree = (got.argmax(-1) == exact.argmax(-1)).float().mean()
    assert agree > 0.9
    for layer in model.model.layers:  # every layer product ran in int8, the MLP's down projection too
        assert isinstance(layer.mlp.down_proj._famcli_int8_weights, Int8Linear)
        assert isinstance(layer.self_attn.o_proj._famcli_int8_weights, Int8Linear)


def test_int8_weights_follow_in_place_changes(llama):
    """An adapter merged after the first read changes the weights in place: the int8 copies are rebuilt."""
    llama._famcli_int8 = True
    config = MemoryConfig(mode="sink", block_size=32, memory_segments=1)
    ids = torch.randint(0, 256, (64,), generator=torch.Generator().manual_seed(2))
    before = read(llama, config, ids)
    with torch.no_grad():
        for layer in llama.model.layers:
            layer.self_attn.o_proj.weight.mul_(2.0)
            layer.mlp.up_proj.weight.mul_(0.5)
    after = read(llama, config, ids)
    llama._famcli_int8 = False
    exact = read(llama, config, ids)
    assert (after - exact).norm() / exact.norm() < 0.05 < (before - exact).norm() / exact.norm()


@pytest.mark.parametrize("recall", ["memory", "passages", None])
def test_int8_reads_and_answers_in_fp32(tiny_model_dirs, tmp_path, monkeypatch, recall):
    """--dtype int8 reads the document with int8 products; the answer's prompt and every decoded token run in
    the model's own precision (int8 answers lost pass keys fp32 found, docs/results.md)."""
    from famcli.core import quant
    from famcli.jobs.asking import ask_document
    from famcli.jobs.session import Session
    from famcli.models.loading import load_model
    from famcli.models.runtime import prepare
    from famcli.recall.search import RecallOptions

    calls = {"n": 0}
    real = quant.Int8Linear.__call__

    def counted(self, x):
        calls["n"] += 1
        return real(self, x)

    monkeypatch.setattr(quant.Int8Linear, "__call__", counted)
    loaded = load_model(str(tiny_model_dirs["llama"]), dtype="int8")
    assert loaded.int8
    session = Session(*prepare(loaded, "sink", "none", block_size=32), RecallOptions(answer_from=recall) if recall else None)
    assert session.engine.int8 and not session.answerer().int8 and not session.final_reader().int8
    doc = tmp_path / "doc.txt"
    doc.write_text("The harbour master keeps the ledger in the blue cabinet. " * 30)
    state = session.engine.new_state()
    session.read_ids(state, session.tokens.encode(doc.read_text()))
    assert calls["n"] > 0  # the document was read in int8
    read_calls = calls["n"]
    answers = []
    monkeypatch.setattr(session, "decode_answer", lambda engine, *a, **k: answers.append(engine.int8) or ("x", False))
    ask_document(session, str(doc), "Where is the ledger?", max_tokens=4)
    assert answers and not any(answers)  # every answer is decoded by an exact engine
    from famcli.core.generate import generate

    calls["n"] = 0
    generate(session.answerer(), state, [5, 6, 7], 3)
    assert calls["n"] == 0 < read_calls


def test_int8_ranges_are_calibrated_once_per_weights(tiny_model_dirs, tmp_path, monkeypatch):
    """The calibration read is cached by the weight files: a second load reads the ranges back (and needs no
    calibration read); changed weights calibrate afresh."""
    import os

    from famcli.core import quant
    from famcli.models.loading import calibration_file, load_model

    monkeypatch.setenv("FAMCLI_CACHE", str(tmp_path / "cache"))
    folder = tiny_model_dirs["qwen2"]
    first = load_model(str(folder), dtype="int8")
    cache = calibration_file(folder, None)
    assert cache.is_file()
    ranges = {name: first.model._famcli_x_max[id(m)] for name, m in first.model.named_modules()
              if id(m) in first.model._famcli_x_max}
    assert len(ranges) == 7 * first.model.config.num_hidden_layers

    def no_read(*args):
        raise AssertionError("calibrated again")

    monkeypatch.setattr(quant, "_calibrate", no_read)
    second = load_model(str(folder), dtype="int8")
    again = {name: second.model._famcli_x_max[id(m)] for name, m in second.model.named_modules()
             if id(m) in second.model._famcli_x_max}
    assert again.keys() == ranges.keys() and all(torch.equal(again[n], ranges[n]) for n in ranges)
    weights = folder / "model.safetensors"
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert calibration_file(folder, None) != cache
    with pytest.raises(AssertionError, match="calibrated again"):
        load_model(str(folder), dtype="int8")
