"""Tiny random Llama-family models (hidden 64, 2 layers, vocab 256) for fast exactness tests on CPU."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ARCHS = ("llama", "mistral", "qwen2")

# The installed console script, run the way users run it: from a folder outside the repository (so the
# repository's own folders are not on its path) and without PYTHONPATH.
FAMCLI = [str(Path(sys.executable).with_name("famcli"))]
OUTSIDE = tempfile.mkdtemp(prefix="famcli-cwd-")
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def famcli_process(args, popen: bool = False, **kwargs):
    """`subprocess.run` (or `Popen`) of the installed `famcli` with `args`, from outside the repository."""
    import subprocess

    kwargs.setdefault("cwd", OUTSIDE)
    kwargs.setdefault("env", USER_ENV)
    argv = [*FAMCLI, *map(str, args)]
    return subprocess.Popen(argv, **kwargs) if popen else subprocess.run(argv, **kwargs)


def tiny_model(arch: str = "llama", seed: int = 0, dtype=torch.float32, **overrides):
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(seed)
    kwargs = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                  rope_theta=10000.0, tie_word_embeddings=False)
    if arch == "qwen2":
        kwargs["use_sliding_window"] = False
    if arch == "mistral":
        kwargs["sliding_window"] = None
    kwargs.update(overrides)
    config = AutoConfig.for_model(arch, **kwargs)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=dtype)
    with torch.no_grad():  # random init is tiny; widen it so attention patterns are not uniform
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.08)
    return model.eval().requires_grad_(False)


@pytest.fixture(params=ARCHS)
def arch(request):
    return request.param


@pytest.fixture
def llama():
    return tiny_model("llama")


def tiny_tokenizer():
    """A byte-level BPE tokenizer with a 256-token vocabulary, built offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=256, special_tokens=["<eos>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["the pass key is 123. the grass is green."] * 10, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """Saved tiny model folders (config, safetensors, tokenizer), one per architecture."""
    root = tmp_path_factory.mktemp("models")
    dirs = {}
    for arch in ARCHS:
        path = root / arch
        tiny_model(arch).save_pretrained(path)
        tiny_tokenizer().save_pretrained(path)
        dirs[arch] = path
    return dirs


@pytest.fixture
def tiny(tiny_model_dirs):
    """The tiny llama model folder, as a --model argument."""
    return str(tiny_model_dirs["llama"])


NEEDLE = "The secret password is bluebird. "
FILLER = "The river ran slow past the mill and the weather in the valley stayed mild all year. "


@pytest.fixture
def long_doc(tmp_path):
    """Past the tiny model's 2,048-token window, so answers come from recalled passages."""
    path = tmp_path / "long.txt"
    path.write_text(FILLER * 40 + NEEDLE + FILLER * 60)
    return path
