"""The native quick-start model and tokenizer (famcli.models.native) against transformers on the same folders."""

from __future__ import annotations

import pytest
import torch
from conftest import ARCHS, tiny_model, tiny_tokenizer

from famcli.models import native
from famcli.models.loading import load_model

TEXTS = ["The pass key is 123. The grass is green.", "  leading spaces, ünïcode, emoji 🙂 and\nnew lines\n\n",
         "the the the 9999999 <eos> end"]


def hf_model(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


@pytest.mark.parametrize("arch", ARCHS)
def test_native_model_gives_transformers_logits(tiny_model_dirs, arch):
    loaded = load_model(str(tiny_model_dirs[arch]), dtype="fp32")
    assert isinstance(loaded.model, native.CausalLM)
    ids = torch.randint(0, 256, (1, 77), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours, theirs = loaded.model(ids).logits, hf_model(tiny_model_dirs[arch])(ids).logits
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(loaded.model(ids, logits_to_keep=1).logits, theirs[:, -1:], atol=1e-4, rtol=1e-4)


def test_tied_embeddings_share_one_tensor(tmp_path):
    path = tmp_path / "tied"
    tiny_model("llama", tie_word_embeddings=True).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    loaded = load_model(str(path), dtype="fp32")
    assert isinstance(loaded.model, native.CausalLM)
    assert loaded.model.lm_head.weight.data_ptr() == loaded.model.model.embed_tokens.weight.data_ptr()
    ids = torch.randint(0, 256, (1, 40), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(ids).logits, hf_model(path)(ids).logits, atol=1e-4, rtol=1e-4)


def test_a_folder_it_does_not_fit_loads_through_transformers(tmp_path):
    path = tmp_path / "scaled"
    tiny_model("llama", rope_scaling={"rope_type": "linear", "factor": 2.0}).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    assert native.read_config(path) is None
    loaded = load_model(str(path), dtype="fp32")
    assert not isinstance(loaded.model, native.CausalLM) and loaded.model.config.model_type == "llama"


def _tokenizer_pairs(tiny_model_dirs):
    from transformers import AutoTokenizer

    folders = [tiny_model_dirs["llama"]]
    try:  # the default model's converted folder, when this machine has it
        from famcli.models.loading import _gguf_cache_dir, default_gguf_path

        cached = _gguf_cache_dir(default_gguf_path())
        if (cached / "tokenizer.json").is_file():
            folders.append(cached)
    except Exception:  # noqa: BLE001 - the default model is optional here
        pass
    return [(native.Tokenizer(f), AutoTokenizer.from_pretrained(f)) for f in folders]


def test_native_tokenizer_gives_transformers_ids_text_and_chat_turns(tiny_model_dirs):
    for ours, theirs in _tokenizer_pairs(tiny_model_dirs):
        for text in TEXTS:
            for special in (False, True):
                assert ours.encode(text, add_special_tokens=special) == theirs.encode(text, add_special_tokens=special)
            ids = theirs.encode(text, add_special_tokens=False)
            assert ours.decode(ids) == theirs.decode(ids)
            assert ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)
        assert ours.eos_token_id == theirs.eos_token_id and len(ours) == len(theirs)
        assert ours.convert_tokens_to_ids(ours.eos_token) == theirs.convert_tokens_to_ids(theirs.eos_token)
        if theirs.chat_template:
            turn = [{"role": "user", "content": TEXTS[0]}]
            assert ours.apply_chat_template(turn, tokenize=False, add_generation_prompt=True) == \
                theirs.apply_chat_template(turn, tokenize=False, add_generation_prompt=True)
