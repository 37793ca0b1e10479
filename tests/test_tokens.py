"""The tiktoken encoding built from the model's BPE gives exactly the model tokenizer's ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import tiny_tokenizer

from famcli.models.tokens import Tokens

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def test_tiny_tokenizer_through_tiktoken():
    tokens = Tokens(tiny_tokenizer())
    assert tokens.backend == "tiktoken"
    text = "the pass key is 123.\n the grass  is green!\t\u00e9\U0001F600"
    assert tokens.check(text)
    assert tokens.count(text) == len(tokens.encode(text))


def test_stream_cuts_at_newlines_and_matches_whole_encoding():
    tokens = Tokens(tiny_tokenizer())
    text = "the grass is green.\nthe pass key is 42.\n" * 20
    pieces = [text[i:i + 7] for i in range(0, len(text), 7)]
    assert [i for ids in tokens.stream(pieces) for i in ids] == tokens.encode(text)


def test_a_line_of_megabytes_is_encoded_in_bounded_pieces(monkeypatch):
    """One line far longer than a piece (a minified file, a bomb's inflated text) is cut before a space, so the
    ids equal the whole line's; a run without spaces is cut where it must be; no encode call gets more than
    Tokens.PIECE characters."""
    tokens = Tokens(tiny_tokenizer())
    monkeypatch.setattr(Tokens, "PIECE", 5000)
    sizes, encode = [], tokens.encode
    monkeypatch.setattr(tokens, "encode", lambda text: sizes.append(len(text)) or encode(text))
    line = "the  grass is green, the pass key is 42 " * 2000
    streamed = [i for ids in tokens.stream([line[i:i + 30000] for i in range(0, len(line), 30000)]) for i in ids]
    assert streamed == encode(line) and max(sizes) <= 5000 and len(sizes) > 10
    sizes.clear()
    run = "a" * 40000
    ids = [i for ids in tokens.stream([run]) for i in ids]
    assert max(sizes) <= 5000 and tokens.hf.decode(ids) == run


@pytest.mark.slow
@pytest.mark.parametrize("book", ["alice", "frankenstein", "moby", "pride", "sherlock"])
def test_default_model_tiktoken_equals_model_tokenizer_on_corpus(default_tokens, book):
    if not (CORPUS / f"{book}.txt").is_file():
        pytest.skip("../shared/corpus is not beside the checkout")
    text = (CORPUS / f"{book}.txt").read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    assert default_tokens.backend == "tiktoken"
    assert default_tokens.check(text)


@pytest.fixture(scope="module")
def default_tokens():
    from famcli.models.loading import load_model

    return Tokens(load_model().tokenizer)
