"""A model session: reading through the memory, which path an answer takes, and decoding it (what is found
without the model, the recall index and the answering sentences, is its `lookup`: famcli.jobs.lookup).

Questions go both before the document (so the memory reads it knowing what matters) and after it as a
chat turn; notes and summaries are chat turns too. Measured on the default model with a fact in a short
report: only question-before + chat-turn-after answered it; `Question: / Answer:` repeated a sentence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine, State, build_engine, untrained_memory
from famcli.core.generate import Sampling, stream_tokens
from famcli.jobs.answer import AnswerOptions, finished_paragraph, repeated_line
from famcli.jobs.lookup import Lookup, Reading
from famcli.models.prompts import chat_turn, question_header
from famcli.models.tokens import Tokens
from famcli.recall.index import RecallConfig
from famcli.recall.search import RecallOptions

if TYPE_CHECKING:  # annotations only
    from famcli.models.loading import LoadedModel

Progress = Callable[[int], None]


FULL_BLOCK = 1024  # tokens a block of the plain model's reads (final_reader)


class Session:
    """A loaded model, its tokenizer and one engine: everything a command needs to read and answer."""

    def __init__(self, loaded: LoadedModel, config: MemoryConfig, recall: RecallOptions | None = RecallOptions(),
                 index_config: RecallConfig = RecallConfig(), answer_options: AnswerOptions = AnswerOptions()):
        self.loaded = loaded
        self.tokens = Tokens(loaded.tokenizer)
        self.engine: Engine = build_engine(loaded, config)
        self.recall = recall  # None: answers come from the memory alone (--no-recall)
        self.lookup = Lookup(loaded, self.tokens, recall, index_config, answer_options, self.final_reader,
                             self.engine.config.window)
        self._full: Engine | None = None
        self._answerer: Engine | None = None

    @property
    def config(self) -> MemoryConfig:
        return self.engine.config

    @property
    def identity(self) -> dict:
        """What a saved state must match: the model's shapes and name, and the adapter merged into it."""
        adapter = self.loaded.adapter
        return self.loaded.identity | ({"adapter": adapter.fingerprint} if adapter is not None else {})

    def new_state(self, question: str | None = None) -> State:
        """A fresh state; with the question the document will be asked, told to the memory before it reads
        (the keep memory keeps the sentences that hold its words)."""
        state = self.engine.new_state()
        if question:
            self.engine.memory.question(state, self.tokens.encode(question))
        return state

    def read_ids(self, state: State, ids: list[int], progress: Progress | None = None) -> None:
        """Feed ids block by block so progress and Ctrl-C land between blocks."""
        B = self.config.block_size
        for start in range(0, len(ids), B):
            piece = ids[start:start + B]
            self.engine.feed(state, piece)
            if progress:
                progress(len(piece))

    def read_text(self, state: State, pieces: Iterable[str], progress: Progress | None = None,
                  every: int | None = None, on_section: Callable[[State, list[int]], None] | None = None) -> Reading:
        """Stream text pieces through the memory; every `every` tokens call on_section with the state and the ids
        read since the last call."""
        reading, t0, next_mark, since = Reading(), time.perf_counter(), every, []
        for ids in self.tokens.stream(pieces):
            for start in range(0, len(ids), self.config.block_size):
                piece = ids[start:start + self.config.block_size]
                if next_mark is not None and reading.tokens + len(piece) >= next_mark:
                    cut = next_mark - reading.tokens
                    self._feed_counted(state, piece[:cut], reading, progress)
                    on_section(state, since + piece[:cut])
                    next_mark, since, piece = next_mark + every, [], piece[cut:]
                self._feed_counted(state, piece, reading, progress)
                if next_mark is not None:
                    since.extend(piece)
        reading.seconds = time.perf_counter() - t0
        return reading

    def _feed_counted(self, state, ids, reading: Reading, progress) -> None:
        if ids:
            self.engine.feed(state, ids)
            reading.tokens += len(ids)
            if progress:
                progress(len(ids))

    def complete(self, state: State, prompt: str, max_tokens: int, sampling: Sampling = Sampling(),
                 stop: tuple[str, ...] = ("\n\n",), engine: Engine | None = None) -> str:
        """Feed a prompt after what was read and decode an answer; the state is changed (clone first).

        `engine` reads the prompt instead of the session's own (the state must be that engine's)."""
        tok = self.loaded.tokenizer
        prompt_ids = tok.encode(prompt, add_special_tokens=False)  # prompts may hold chat special tokens
        return self.complete_ids(engine or self.answerer(), state, prompt_ids, max_tokens, sampling, stop)

    def complete_ids(self, engine: Engine, state: State, prompt_ids: list[int], max_tokens: int,
                     sampling: Sampling, stop: tuple[str, ...], on_text: Callable[[str], None] | None = None) -> str:
        """The answer after `prompt_ids`, cut at the first stop string; `on_text` gets it piece by piece as
        it is decoded (what it gets, joined, is the answer)."""
        tok, stop_ids = self.loaded.tokenizer, self.stop_ids()

        def should_stop(ids):
            return any(s in tok.decode(ids[-8:]) for s in stop)

        ids, shown = [], ""
        for token in stream_tokens(engine, state, prompt_ids, max_tokens, sampling, stop_ids, should_stop):
            ids.append(token)
            if on_text is not None:
                ready = _ready(tok.decode(ids, skip_special_tokens=True), stop)
                if len(ready) > len(shown):
                    on_text(ready[len(shown):])
                    shown = ready
        text = _cut(tok.decode(ids, skip_special_tokens=True), stop).strip()
        if on_text is not None and text.startswith(shown) and len(text) > len(shown):
            on_text(text[len(shown):])
        return text

    def stop_ids(self) -> list[int]:
        """The ids that end a turn: end of text and the chat template's end of turn."""
        tok = self.loaded.tokenizer
        return [i for i in (tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")) if isinstance(i, int) and i >= 0]

    def final_reader(self) -> Engine:
        """The plain model (mode full) for texts that fit its window, e.g. a summary's sections and notes. Like
        every answer, in the model's own precision even when the document is read in int8; in blocks of
        FULL_BLOCK tokens (the same logits in any chunking; a 3,000-token section read 1.2x faster than in
        256-token blocks on 2 cores)."""
        if self._full is None:
            block = max(self.config.block_size, FULL_BLOCK)
            self._full = build_engine(self.loaded, MemoryConfig(mode="full", block_size=block), exact=True)
        return self._full

    def answerer(self) -> Engine:
        """The engine that reads an answer's prompt after the memory and decodes it: the session's own, or
        with `--dtype int8` its twin with the layer products in fp32 (same memory, same state): int8 reads the
        document, fp32 writes what the user reads (int8 answers lost pass keys, docs/results.md)."""
        if not self.engine.int8:
            return self.engine
        if self._answerer is None:
            self._answerer = build_engine(self.loaded, self.config, exact=True)
        return self._answerer

    # ----- which path an answer takes --------------------------------------------------------------------

    @property
    def memory_carries(self) -> bool:
        """Whether the memory holds anything past its window: a trained FAM or Memformer adapter."""
        return self.config.trainable and not untrained_memory(self.loaded, self.config)

    def answer_path(self) -> tuple[str, str]:
        """(passages | memory, why): whether a document is read through the model before answering.

        The passages path tokenises and indexes the document without the model: the answer reads only the
        sentences that match the question. The memory path reads every token through the memory and answers
        after its state; it is taken where something uses that read."""
        if self.recall is None:
            return "memory", "--no-recall answers from the memory alone"
        if self.recall.answer_from != "auto":
            return self.recall.answer_from, f"--answer-from {self.recall.answer_from}"
        if self.recall.scorer != "bm25":
            return "memory", f"the {self.recall.scorer} scorer needs the model's keys of the document"
        if self.memory_carries:
            return "memory", f"the trained {self.config.mode} memory carries what it read"
        return "passages", (f"the {self.config.mode} memory keeps nothing past its last {self.config.window:,} "
                            "tokens; --answer-from memory reads the document through it")

    @property
    def answers_from_memory(self) -> bool:
        return self.answer_path()[0] == "memory"

    def decode_answer(self, engine: Engine, state: State, prompt_ids: list[int], max_tokens: int,
                      sampling: Sampling) -> tuple[str, bool]:
        """(answer, cut at max_tokens): decoded until the model ends its turn, a paragraph is finished and a blank
        line follows it, a line repeats an earlier one (a loop: it is dropped), or the limit; the sampling's
        no-repeat rule bans shorter loops."""
        tok, ids = self.loaded.tokenizer, []
        for token in stream_tokens(engine, state, prompt_ids, max_tokens, sampling, self.stop_ids()):
            ids.append(token)
            if "\n" in tok.decode([token]):
                text = tok.decode(ids, skip_special_tokens=True)
                kept = repeated_line(text)
                if kept is not None:  # a loop of whole lines: what came before it is the answer
                    return kept, False
                if finished_paragraph(text):  # what follows a finished answer is talk about it
                    return text.strip(), False
        return tok.decode(ids, skip_special_tokens=True).strip(), len(ids) >= max_tokens

    def fits_whole(self, n_tokens: int, answer_tokens: int, question: str) -> bool:
        """Whether a document this long is re-read whole to answer (so reading it through the memory first
        would be wasted): it fits the model's window with the question twice and the answer (as in
        recall_prompt)."""
        asked = len(self.tokens.encode(question_header(question) + chat_turn(self.loaded.tokenizer, question)))
        return self.recall is not None and n_tokens <= self.recall.whole and \
            n_tokens + asked + answer_tokens + 8 <= self.loaded.context_window

    def answer_from(self, ids: list[int], max_tokens: int, sampling: Sampling, stop: tuple[str, ...],
                    on_text: Callable[[str], None] | None = None) -> str:
        """Decode after reading `ids` with the plain model's full attention."""
        engine = self.final_reader()
        return self.complete_ids(engine, engine.new_state(), ids, max_tokens, sampling, stop, on_text)


def _cut(text: str, stop: tuple[str, ...]) -> str:
    for s in stop:
        text = text.split(s)[0]
    return text


def _ready(text: str, stop: tuple[str, ...]) -> str:
    """The part of a partial answer that can be shown: cut at a stop string, without leading whitespace,
    trailing whitespace or a trailing piece that may begin a stop string or a character not complete yet."""
    text = _cut(text, stop).lstrip()
    for s in stop:
        for n in range(min(len(s), len(text)), 0, -1):
            if text.endswith(s[:n]):
                text = text[:-n]
                break
    return text.rstrip().removesuffix("\ufffd")
