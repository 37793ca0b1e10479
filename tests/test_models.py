"""Model finding and loading: folders, .gguf, hub ids, dtype and device, offline only."""

from __future__ import annotations

import socket

import pytest
import torch

from famcli.models import ModelError, load_model, pick_dtype, resolve


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


def test_dtype_choice(monkeypatch):
    from famcli import models

    assert pick_dtype("fp32", torch.device("cpu")) == (torch.float32, False)
    for fast_bf16, reading, expected in [(True, True, (torch.bfloat16, False)), (False, True, (torch.float32, True)),
                                         (False, False, (torch.float32, False)), (True, False, (torch.bfloat16, False))]:
        monkeypatch.setattr(models, "cpu_supports_bf16", lambda: fast_bf16)
        assert pick_dtype("auto", torch.device("cpu"), reading) == expected  # int8 reads where bf16 is slow
    assert pick_dtype("int8", torch.device("cpu")) == (torch.float32, True)  # fp32 activations, int8 weights
    with pytest.raises(ModelError, match="unknown dtype"):
        pick_dtype("int3", torch.device("cpu"))


def test_famcli_kernels_package_is_not_mistaken_for_hf_kernels():
    import transformers.utils

    import kernels

    assert hasattr(kernels, "block_attention")
    assert transformers.utils.is_kernels_available() is False
