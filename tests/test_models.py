"""Model finding and loading: folders, .gguf, hub ids, dtype and device, offline only."""

from __future__ import annotations

import socket

import pytest
import torch

from famcli.models.loading import ModelError, load_model, pick_dtype, resolve


@pytest.mark.parametrize("name", ["llama", "mistral", "qwen2"])
def test_loads_local_folder_of_each_architecture(tiny_model_dirs, name):
    loaded = load_model(str(tiny_model_dirs[name]), dtype="fp32")
    assert loaded.architecture == name
    assert loaded.dtype == torch.float32 and loaded.device.type == "cpu"
    assert loaded.tokenizer.decode(loaded.tokenizer.encode("the grass")) .strip() == "the grass"
    assert loaded.context_window == 2048


def test_loading_never_opens_a_socket(tiny_model_dirs, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access during loading")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    load_model(str(tiny_model_dirs["llama"]), dtype="fp32")
    with pytest.raises(ModelError, match="never downloads"):
        load_model("someone/not-in-cache-model", dtype="fp32")


@pytest.mark.parametrize("spec,message", [
    ("/no/such/model.gguf", "not found"),
    ("/no/such/folder", "not found"),
])
def test_bad_model_paths_give_one_line_errors(spec, message):
    with pytest.raises(ModelError, match=message):
        resolve(spec)


def test_folder_without_config_and_unreadable_gguf(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve(str(tmp_path))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelError, match="cannot read GGUF"):
        load_model(str(bad), dtype="fp32", use_cache=False)


def test_dtype_choice(monkeypatch, tmp_path):
    """auto on a CPU: the most exact candidate unless a less exact one's products are 1.1x faster; bf16 only
    with bf16 instructions, int8 only for reading; the probe runs twice per CPU and is cached when both agree."""
    from famcli.models import precision

    monkeypatch.setenv("FAMCLI_CACHE", str(tmp_path))
    assert pick_dtype("fp32", torch.device("cpu")) == (torch.float32, False)
    probed = []
    speeds = {"avx2": {"fp32": 10.0, "bf16": 80.0, "int8": 7.0}, "amx": {"fp32": 7.0, "bf16": 1.2, "int8": 1.9},
              "zen4": {"fp32": 6.0, "bf16": 2.0, "int8": 1.85}, "slow int8": {"fp32": 10.0, "int8": 9.5}}
    cpu = {"name": "avx2"}
    monkeypatch.setattr(precision, "probe", lambda c: probed.append(c) or {k: speeds[cpu["name"]][k] for k in c})
    monkeypatch.setattr(precision, "precision_file", lambda c: tmp_path / f"{cpu['name']}-{'-'.join(c)}.json")
    cases = [("avx2", False, True, (torch.float32, True)), ("avx2", False, False, (torch.float32, False)),
             ("amx", True, True, (torch.bfloat16, False)), ("amx", True, False, (torch.bfloat16, False)),
             ("zen4", True, True, (torch.bfloat16, False)),  # int8 1.08x faster than bf16: not enough
             ("slow int8", False, True, (torch.float32, False))]
    for name, bf16_flags, reading, expected in cases:
        cpu["name"] = name
        monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: bf16_flags)
        assert pick_dtype("auto", torch.device("cpu"), reading) == expected, name
    # without bf16 instructions bf16 is not even timed; training never times (or picks) int8; fp32 alone: no probe
    assert probed[::2] == probed[1::2]  # each CPU probed twice (a disturbed probe does not decide for good)
    assert probed[::2] == [("fp32", "int8"), ("fp32", "bf16", "int8"), ("fp32", "bf16"), ("fp32", "bf16", "int8"),
                           ("fp32", "int8")]
    speeds["zen4"]["int8"] = 1.5  # 1.33x bf16
    cpu["name"] = "zen4"
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert pick_dtype("auto", torch.device("cpu")) == (torch.bfloat16, False)  # the cached timings, no probe
    (tmp_path / "zen4-fp32-bf16-int8.json").unlink()
    assert pick_dtype("auto", torch.device("cpu")) == (torch.float32, True)
    assert pick_dtype("int8", torch.device("cpu")) == (torch.float32, True)  # fp32 activations, int8 weights
    with pytest.raises(ModelError, match="unknown dtype"):
        pick_dtype("int3", torch.device("cpu"))
    flip = iter([{"fp32": 10.0, "int8": 5.0}, {"fp32": 10.0, "int8": 9.9}])  # a probe disturbed by other work
    monkeypatch.setattr(precision, "probe", lambda c: next(flip))
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: False)
    cpu["name"] = "busy"
    assert pick_dtype("auto", torch.device("cpu")) == (torch.float32, False)  # the second probe's choice
    assert not (tmp_path / "busy-fp32-int8.json").exists()  # not kept: the next start probes again


def test_precision_probe_times_every_candidate(monkeypatch):
    from famcli.core import quant
    from famcli.models import precision

    times = precision.probe(("fp32", "int8"), repeats=1)
    assert set(times) == {"fp32", "int8"} and all(0 < t < 10_000 for t in times.values())

    def broken(*args, **kwargs):
        raise RuntimeError("no quantised engine for this CPU")

    monkeypatch.setattr(quant, "Int8Linear", broken)  # a kernel that fails here is no candidate
    assert set(precision.probe(("fp32", "int8"), repeats=1)) == {"fp32"}
    assert precision.choose({"fp32": 10.0, "int8": 9.5}) == "fp32"
    assert precision.choose({"fp32": 10.0, "int8": 8.0}) == "int8"

