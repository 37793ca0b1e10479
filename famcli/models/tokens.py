"""Token accounting: a tiktoken encoding built offline from the model's own byte-level BPE, and incremental
tokenisation of a text stream.

tiktoken merges the adjacent pair whose concatenated bytes have the lowest rank; a Hugging Face BPE merges
the pair with the lowest merge index. Ranking each token's bytes by the first merge that makes it makes the
two agree; the ranks are then mapped back to the model's ids. `Tokens.check` proves it on real text.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

READABLE = 0.5  # the share of a text's letters with a token of their own below which the model cannot read it
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's bytes_to_unicode table."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, n = printable[:], 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def build_tiktoken(hf_tokenizer):
    """A tiktoken.Encoding equal to a byte-level BPE tokenizer (GPT-2 pre-tokenisation), or None."""
    backend = getattr(hf_tokenizer, "backend_tokenizer", None) or getattr(hf_tokenizer, "_tokenizer", None)
    if backend is None:
        return None
    spec = json.loads(backend.to_str())
    model, pre = spec.get("model", {}), spec.get("pre_tokenizer") or {}
    if model.get("type") != "BPE" or spec.get("normalizer") or pre.get("type") != "ByteLevel" \
            or pre.get("add_prefix_space") or not pre.get("use_regex", True) or model.get("byte_fallback"):
        return None
    import tiktoken

    decoder = _byte_decoder()
    try:
        to_bytes = {tok: bytes(decoder[ch] for ch in tok) for tok in model["vocab"]}
    except KeyError:
        return None
    ranks: dict[bytes, int] = {bytes([b]): b for b in range(256)}  # bytes the vocab lacks map to -1
    for merge in model["merges"]:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        ranks.setdefault(to_bytes[left] + to_bytes[right], len(ranks))
    rank_to_id = np.full(len(ranks), -1, dtype=np.int64)
    by_bytes = {b: model["vocab"][tok] for tok, b in to_bytes.items()}
    for b, r in ranks.items():
        if b not in by_bytes and len(b) > 1:
            return None
        rank_to_id[r] = by_bytes.get(b, -1)
    enc = tiktoken.Encoding(name="famcli-bpe", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    return enc, rank_to_id


class Tokens:
    """Plain-text tokenisation through tiktoken when it reproduces the model tokenizer, else the model's."""

    SHORT = 4096  # characters: shorter texts go straight to the model tokenizer (building tiktoken takes ~0.3 s)

    def __init__(self, hf_tokenizer):
        self.hf = hf_tokenizer

    @functools.cached_property
    def _built(self):
        return build_tiktoken(self.hf) or (None, None)

    @property
    def tiktoken(self):
        """The tiktoken encoding, built when a long text first needs it (None if it cannot express the model's)."""
        return self._built[0]

    @property
    def _rank_to_id(self):
        return self._built[1]

    @property
    def backend(self) -> str:
        return "tiktoken" if self.tiktoken is not None else "model tokenizer"

    def encode(self, text: str) -> list[int]:
        if len(text) < self.SHORT or self.tiktoken is None:
            return self.hf.encode(text, add_special_tokens=False)
        ids = self._rank_to_id[np.asarray(self.tiktoken.encode_ordinary(text), dtype=np.int64)]
        if ids.size and ids.min() < 0:  # a byte the vocabulary cannot express: the model tokenizer decides
            return self.hf.encode(text, add_special_tokens=False)
        return ids.tolist()

    def count(self, text: str) -> int:
        if len(text) < self.SHORT or self.tiktoken is None:
            return len(self.encode(text))
        return len(self.tiktoken.encode_ordinary(text))

    def check(self, text: str) -> bool:
        """True when this encoding gives exactly the model tokenizer's ids on the text."""
        return self.encode(text) == self.hf.encode(text, add_special_tokens=False)

    def known_letters(self, text: str) -> float:
        """The share of a text's letters that the vocabulary holds as a token of its own (1.0 for a text without
        letters). A letter with none is written in byte pieces: the model saw its script too seldom to learn even
        its characters, and cannot read it (an English model on Japanese: 0.23; on Russian 0.98, Greek 0.83)."""
        counts = Counter(c for c in text if c.isalpha())
        total = sum(counts.values())
        return sum(n for c, n in counts.items() if self._whole(c)) / total if total else 1.0

    def reads(self, text: str) -> bool:
        """Whether the model can read the text: at least READABLE of its letters have a token of their own."""
        return self.known_letters(text) >= READABLE

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one Tokens per loaded model
    def _whole(self, letter: str) -> bool:
        return len(self.hf.encode(letter, add_special_tokens=False)) == 1

    PIECE = 65536  # characters: the most one encode call gets, whatever size the pieces arrive in

    def stream(self, chunks: Iterable[str]) -> Iterator[list[int]]:
        """Token ids of a text arriving in pieces, encoded at most PIECE characters at a time (see `pieces`)."""
        for text in self.pieces(chunks):
            yield self.encode(text)

    def count_all(self, chunks: Iterable[str]) -> int:
        """The tokens of a text arriving in pieces, counted at most PIECE characters at a time."""
        return sum(self.count(text) for text in self.pieces(chunks))

    def pieces(self, chunks: Iterable[str]) -> Iterator[str]:
        """A text arriving in pieces of any size (a bomb or a minified file can arrive as one line of megabytes)
        as pieces of at most PIECE characters that encode to what the whole would. Each cut is after a newline,
        else before a space that follows a non-space (where byte-level BPE splits anyway), else, in a run of PIECE
        characters without either, wherever it falls. What is complete up to a newline comes out at once (a log
        arriving line by line is read as it comes)."""
        carry = ""
        for chunk in chunks:
            text = carry + chunk
            while len(text) > self.PIECE:
                cut = _cut(text, self.PIECE)
                yield text[:cut]
                text = text[cut:]
            cut = text.rfind("\n") + 1
            if cut:
                yield text[:cut]
            carry = text[cut:]
        if carry:
            yield carry


_SPACE_AFTER_WORD = re.compile(r"(?<=\S) (?=\S)")


def _cut(text: str, most: int) -> int:
    """Where to cut the first `most` characters of a text off (see Tokens.stream)."""
    cut = text.rfind("\n", 0, most) + 1
    if cut:
        return cut
    last = None
    for last in _SPACE_AFTER_WORD.finditer(text, max(0, most - 4096), most):
        pass
    return last.start() if last is not None else most
