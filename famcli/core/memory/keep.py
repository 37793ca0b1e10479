"""`keep`: BSWA + a fixed number of rows kept by what the question asks (docs/keep.md).

The memory holds `fam_length` key/value rows per layer before the ring: the document's first `sink_tokens`
tokens (attention sinks, as `sink` keeps them) and, after each block, the best of the rows it held and the
block's tokens. Rows are copied, not mixed: keys are kept unrotated and rotated afresh at the start of each
block to sit just before the window, in document order, so the model reads them as text it has just read.

What is best is the *words* score (docs/keep.md): when the question is known before the document is read (`ask`,
`stream --question`, `passkey`), a sentence scores the sum, over the question's content words it holds, of each
word's rarity in all the text read so far, log(1 + tokens read / (1 + uses)), weighed again at every block; every
token of a sentence takes its sentence's score (the tokens nearest the question's words first), and a sentence cut
by a block's end is scored whole. With a question, rows it picks nothing in are not kept; without one, ties go to
the earlier rows, so the rows continue the opening. Attention-based policies (H2O, TOVA, the question's queries)
and surprisal kept no fact through 64 updates in the same measurement.

The state has a constant size: the kept rows with their positions and question words, the question's words and
their counts, and the current block's raw keys, values and token ids (the candidates when it completes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from famcli.common.errors import ConfigError
from famcli.core.memory.base import Memory, MemoryState
from famcli.core.positions import rotate
from famcli.text import stop_words_plus

QUESTION_WORDS = 16  # most content words of a question the memory matches
NEAR = 32  # tokens: within a picked sentence, rows nearer the question's words than this are kept first


class Vocabulary:
    """Per token id: whether it ends a sentence, its word form (one id stands for every token with the same
    letters and digits, lower case; -1 for none) and whether that form is a content word (not a stop word, not
    a number: digits are single tokens and would match every number)."""

    _cache: dict[int, tuple[object, "Vocabulary"]] = {}

    def __init__(self, ends: torch.Tensor, form: torch.Tensor, content: torch.Tensor):
        self.ends, self.form, self.content = ends, form, content

    @classmethod
    def of(cls, tokenizer) -> "Vocabulary":
        """The tables of a tokenizer (built once per tokenizer: decoding the vocabulary takes a moment)."""
        hit = cls._cache.get(id(tokenizer))
        if hit is not None and hit[0] is tokenizer:
            return hit[1]
        stop = set(stop_words_plus())
        backend, ids = getattr(tokenizer, "backend_tokenizer", None), [[i] for i in range(len(tokenizer))]
        pieces = backend.decode_batch(ids) if backend is not None else [tokenizer.decode(i) for i in ids]
        forms: dict[str, int] = {}
        form, content, ends = [], [], []
        for i, piece in enumerate(pieces):
            word = "".join(ch for ch in piece.lower() if ch.isalnum())
            form.append(forms.setdefault(word, i) if word else -1)
            content.append(len(word) > 1 and not word.isdigit() and word not in stop)
            ends.append(any(ch in piece for ch in ".!?\n"))
        vocabulary = cls(torch.tensor(ends), torch.tensor(form), torch.tensor(content))
        cls._cache[id(tokenizer)] = (tokenizer, vocabulary)
        return vocabulary

    @classmethod
    def plain(cls, size: int) -> "Vocabulary":
        """Without a tokenizer (a model built in a test): every id its own content word, no sentence ends."""
        return cls(torch.zeros(size, dtype=torch.bool), torch.arange(size), torch.ones(size, dtype=torch.bool))


@dataclass
class KeepState(MemoryState):
    kept_k: torch.Tensor  # (L, Hkv, N, D) the kept rows' keys, unrotated, in document order
    kept_pos: torch.Tensor  # (N,) their positions (-1: empty)
    kept_words: torch.Tensor  # (N, W) which question words each one's sentence holds
    kept_near: torch.Tensor  # (N,) how far each is from them (block_words)
    keep_raw_k: torch.Tensor  # (L, Hkv, B, D) the current block's keys, unrotated
    keep_raw_v: torch.Tensor  # (L, Hkv, B, D) and values
    keep_ids: torch.Tensor  # (B,) and token ids
    words: torch.Tensor  # (W,) the question's word forms (-1: none)
    word_uses: torch.Tensor  # (W,) how often each occurred in the text read
    open_start: torch.Tensor  # (1,) where the sentence the last block ended inside began (-1: none)
    open_words: torch.Tensor  # (W,) and its question words


class Keep(Memory):
    """BSWA + `fam_length` rows: the first `sink_tokens` tokens, then the rows the question's words pick."""

    within_block = ("keep_raw_k", "keep_raw_v")
    fp32 = ("kept_words", "kept_near", "word_uses", "open_words")
    length_option = "--fam-length"
    length_name = "keep_rows"
    # rows per layer (a quarter of a 256-token block) and the opening kept whole: the first 32 tokens hold the
    # reading's header (the question, an instruction); with 4, pass keys kept whole were misread (docs/keep.md)
    defaults = {"fam_length": 64, "sink_tokens": 32}
    untrained = "keep (no training)"

    @classmethod
    def validate(cls, config) -> None:
        if config.fam_length <= config.sink_tokens:
            raise ConfigError(f"mode keep needs --fam-length above its {config.sink_tokens} sink tokens")

    @classmethod
    def rows(cls, config) -> int:
        return config.fam_length

    def __init__(self, engine, weights=None):
        super().__init__(engine, weights)
        self.vocabulary: Vocabulary | None = None  # built when a question first needs it

    def tables(self) -> Vocabulary:
        if self.vocabulary is None:
            tokenizer = getattr(self.engine, "tokenizer", None)
            self.vocabulary = (Vocabulary.of(tokenizer) if tokenizer is not None
                               else Vocabulary.plain(self.engine.model.config.vocab_size))
        return self.vocabulary

    def init_state(self) -> KeepState:
        e, N, B = self.engine, self.n_rows, self.config.block_size
        kv = dict(dtype=e.param.dtype, device=e.param.device)
        return KeepState(kept_k=torch.zeros(e.n_layers, e.n_kv, N, e.head_dim, **kv),
                         kept_pos=torch.full((N,), -1, dtype=torch.long), kept_words=torch.zeros(N, QUESTION_WORDS),
                         kept_near=torch.ones(N), keep_raw_k=torch.zeros(e.n_layers, e.n_kv, B, e.head_dim, **kv),
                         keep_raw_v=torch.zeros(e.n_layers, e.n_kv, B, e.head_dim, **kv),
                         keep_ids=torch.zeros(B, dtype=torch.long),
                         words=torch.full((QUESTION_WORDS,), -1, dtype=torch.long),
                         word_uses=torch.zeros(QUESTION_WORDS), open_start=torch.full((1,), -1, dtype=torch.long),
                         open_words=torch.zeros(QUESTION_WORDS))

    def question(self, state, ids: list[int]) -> None:
        """Keep what this question asks about (set before the document is read)."""
        v, words = self.tables(), []
        for i in ids:
            if 0 <= i < len(v.form) and v.content[i] and int(v.form[i]) not in words:
                words.append(int(v.form[i]))
        words = words[:QUESTION_WORDS]
        state.mem.words.fill_(-1)
        state.mem.words[:len(words)] = torch.tensor(words, dtype=torch.long)

    # ----- the block step ----------------------------------------------------------------------------

    def _visible(self, state, tau: int) -> tuple[int, int]:
        """(rows the window has lost, where the window starts): kept rows still inside the window stay hidden,
        so no token is seen twice; the kept rows are in document order, so the visible ones come first."""
        window_start = max(0, tau - self.engine.lookback) * self.config.block_size
        pos = state.mem.kept_pos
        return int(((pos >= 0) & (pos < window_start)).sum()), window_start

    def prepare(self, state, plan) -> None:
        """Rows not filled yet, or still inside the window, stay hidden."""
        from famcli import kernels

        visible, _ = self._visible(state, plan.tau)
        if visible < self.n_rows:
            plan.valid[visible:self.n_rows] = False
            plan.bias = kernels.attention_bias(plan.valid, plan.c, plan.base, plan.offset,
                                               self.engine.n_heads // self.engine.n_kv, self.engine.param.dtype)

    def begin(self, state, plan) -> None:
        """Rotate the kept keys so that the visible ones sit just before the window, in document order."""
        if plan.offset:
            return
        visible, window_start = self._visible(state, plan.tau)
        cos, sin = self.engine.rotary.tables(window_start - visible, self.n_rows)
        for l in range(self.engine.n_layers):
            state.k[l][:, :self.n_rows] = rotate(state.mem.kept_k[l], cos, sin)

    def observe(self, l, state, plan, k, v) -> None:
        state.mem.keep_raw_k[l][:, plan.offset:plan.offset + plan.c] = k
        state.mem.keep_raw_v[l][:, plan.offset:plan.offset + plan.c] = v
        if l == 0:
            state.mem.keep_ids[plan.offset:plan.offset + plan.c] = plan.ids

    def commit(self, state, new) -> None:
        """The block is complete: keep the best rows of those held and the block's tokens, in document order.
        Every candidate scores the question words its sentence holds, each weighted by its rarity in all the
        text read so far (held rows are weighed again each block, so an early fact is not judged by the
        statistics of the first blocks)."""
        B, N, mem = self.config.block_size, self.n_rows, state.mem
        start = state.n_tokens // B * B  # the engine counts the block's last chunk after this
        held = mem.kept_pos
        n_held = int((held >= 0).sum())
        block_words, block_near = self.block_words(state, start)
        cand_pos = torch.cat([held[:n_held], torch.arange(start, start + B)])
        cand_words = torch.cat([mem.kept_words[:n_held], block_words])
        cand_near = torch.cat([mem.kept_near[:n_held], block_near])
        asked = mem.words >= 0
        weight = torch.log1p((start + B) / (1 + mem.word_uses)) * asked  # rarer: worth more
        score = cand_words @ weight
        # within a sentence, the tokens nearest the question's words first (a long sentence keeps the words
        # around them), a held row before an equal newcomer (a kept sentence is not cut for an equal one); with
        # a question, rows it picks nothing in are not kept (noise beside the fact)
        s = score - 0.01 * cand_near + 0.02 * (torch.arange(len(cand_pos)) < n_held)
        if bool(asked.any()):
            s = torch.where(score > 0, s, torch.tensor(float("-inf")))
        s = torch.where(cand_pos < self.config.sink_tokens, torch.tensor(1e9), s)  # the opening stays
        # ties go to the earlier rows: without a question the rows continue the opening (the newest would sit in
        # the window anyway)
        best = torch.argsort(s, descending=True, stable=True)[:N]  # candidates are in document order
        best = best[torch.isfinite(s[best])]
        keep = best[torch.argsort(cand_pos[best])]
        for l in range(self.engine.n_layers):
            ks = torch.cat([mem.kept_k[l][:, :n_held], mem.keep_raw_k[l]], dim=1)
            vs = torch.cat([state.v[l][:, :n_held], mem.keep_raw_v[l]], dim=1)
            mem.kept_k[l][:, :len(keep)] = ks[:, keep]
            state.v[l][:, :len(keep)] = vs[:, keep]
        held.fill_(-1)
        held[:len(keep)] = cand_pos[keep]
        mem.kept_words.zero_()
        mem.kept_words[:len(keep)] = cand_words[keep]
        mem.kept_near.fill_(1.0)
        mem.kept_near[:len(keep)] = cand_near[keep]
        state.updates += 1

    def block_words(self, state, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """For each of the completed block's tokens: which question words its sentence holds (B, Q) (a
        sentence the previous block ended inside is one sentence with this block's first: both parts, held
        rows included, get the words of the whole), and how far it is from the nearest of them in its sentence
        within the block, as a share of NEAR (B,), 1 when none. Counts the words' uses."""
        mem, words, B = state.mem, state.mem.words, self.config.block_size
        if not bool((words >= 0).any()):  # no question: no row is picked
            return torch.zeros(B, len(words)), torch.ones(B)
        v = self.tables()
        ids = mem.keep_ids.clamp(0, len(v.form) - 1)
        match = (v.form[ids][:, None] == words[None, :]) & (words >= 0)[None, :] & v.content[ids][:, None]
        mem.word_uses += match.sum(0).float()
        ends = v.ends[ids].long()
        sentence = torch.cumsum(ends, 0) - ends  # a sentence's end belongs to it
        n = int(sentence[-1]) + 1
        present = (torch.zeros(n, len(words)).index_add_(0, sentence, match.float()) > 0).float()
        open_start = int(mem.open_start)
        if open_start >= 0:  # the block began inside a sentence
            present[0] = torch.maximum(present[0], mem.open_words)
            held = mem.kept_pos
            same = (held >= open_start) & (held >= 0)
            mem.kept_words[same] = torch.maximum(mem.kept_words[same], present[0])
        if bool(ends[-1]):
            mem.open_start.fill_(-1)
            mem.open_words.zero_()
        else:  # the last sentence goes on in the next block
            begins = start + int(torch.nonzero(sentence == n - 1)[0])
            mem.open_start.fill_(open_start if n == 1 and open_start >= 0 else begins)
            mem.open_words.copy_(present[-1])
        at, hit = torch.arange(B), match.any(1)
        apart = (at[:, None] - at[None, :]).abs().float()
        apart[~hit[None, :].expand(B, B) | (sentence[:, None] != sentence[None, :])] = float("inf")
        near = (apart.amin(1) / NEAR).clamp(max=1.0)
        return present[sentence], near
