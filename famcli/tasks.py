"""What summarize, ask and stream do: reading through the memory, prompts, notes and answers.

Questions go both before the document (so the memory reads it knowing what matters) and after it as a
chat turn; notes and summaries are chat turns too. Measured on the default model with a fact in a short
report: only question-before + chat-turn-after answered it; `Question: / Answer:` repeated a sentence.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from famcli.answer import (
    NOT_FOUND,
    AnswerOptions,
    ChunkSearch,
    Evidence,
    asks_for_several,
    evidence_prompt,
    explains,
    find_evidence,
    item_key,
    list_text,
    quoted,
    several_parts,
    supported,
)
from famcli.config import MemoryConfig
from famcli.engine import Engine, State
from famcli.generate import Sampling, stream_tokens
from famcli.models import LoadedModel
from famcli.recall import QueryCapture, RecallConfig, RecallIndex, layers_for
from famcli.retrieve import SEPARATOR, Passage, RecallOptions, layout, score_chunks
from famcli.runtime import build_engine
from famcli.tokens import Tokens

Progress = Callable[[int], None]


@dataclass
class Reading:
    """What one pass over a document did."""

    tokens: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


FULL_BLOCK = 1024  # tokens a block of the plain model's reads (final_reader)


class Session:
    """A loaded model, its tokenizer and one engine: everything a command needs to read and answer."""

    def __init__(self, loaded: LoadedModel, config: MemoryConfig, recall: RecallOptions | None = RecallOptions(),
                 index_config: RecallConfig = RecallConfig(), answer_options: AnswerOptions = AnswerOptions()):
        self.loaded = loaded
        self.answer_options = answer_options if recall is None else \
            dataclasses.replace(answer_options, chunks=2 * recall.blocks)  # sentences of twice --recall-blocks
        self.tokens = Tokens(loaded.tokenizer)
        self.engine: Engine = build_engine(loaded, config)
        self.recall = recall  # None: answers come from the memory alone (--no-recall)
        self.index_config = index_config
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

    def read_ids(self, state: State, ids: list[int], progress: Progress | None = None) -> None:
        """Feed ids block by block so progress and Ctrl-C land between blocks."""
        B = self.config.block_size
        for start in range(0, len(ids), B):
            piece = ids[start:start + B]
            self.engine.feed(state, piece)
            if progress:
                progress(len(piece))

    def read_text(self, state: State, pieces: Iterable[str], progress: Progress | None = None,
                  every: int | None = None, on_section: Callable[[State], None] | None = None) -> Reading:
        """Stream text pieces through the memory; call on_section every `every` tokens."""
        reading, t0, next_mark = Reading(), time.perf_counter(), every
        for ids in self.tokens.stream(pieces):
            for start in range(0, len(ids), self.config.block_size):
                piece = ids[start:start + self.config.block_size]
                if next_mark is not None and reading.tokens + len(piece) >= next_mark:
                    cut = next_mark - reading.tokens
                    self._feed_counted(state, piece[:cut], reading, progress)
                    on_section(state)
                    next_mark += every
                    piece = piece[cut:]
                self._feed_counted(state, piece, reading, progress)
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
        document, fp32 writes what the user reads (int8 answers lost pass keys, docs/benchmarks.md)."""
        if not self.engine.int8:
            return self.engine
        if self._answerer is None:
            self._answerer = build_engine(self.loaded, self.config, exact=True)
        return self._answerer

    # ----- which path an answer takes --------------------------------------------------------------------

    @property
    def memory_carries(self) -> bool:
        """Whether the memory holds anything past its window: a trained FAM or Memformer adapter."""
        from famcli.runtime import untrained_memory

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

    def evidence(self, index: RecallIndex, question: str) -> Evidence:
        """The sentences that match a question (famcli.answer)."""
        return find_evidence(index, question, self.loaded.tokenizer.decode, self.answer_options, self._search(index))

    def several_parts(self, index: RecallIndex, question: str) -> list[Passage]:
        """The sentences that may each answer part of a question that asks for several things."""
        return several_parts(index, question, self.loaded.tokenizer.decode, self.answer_options, self._search(index))

    def _search(self, index: RecallIndex) -> ChunkSearch:
        """The chunks' text and BM25 index, built once per reading: a conversation's later questions only score."""
        search = getattr(index, "search", None)
        if search is None or search.n_chunks != index.n_chunks:
            search = index.search = ChunkSearch(index, self.loaded.tokenizer.decode)
        return search

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

    # ----- recall ------------------------------------------------------------------------------------

    def new_index(self, question: str | None = None, keys: bool = True) -> RecallIndex:
        """A recall index to hang on a state before reading; with the question, it keeps only scores.
        Without it, `keys` keeps representative keys (any scorer later) or only the token ids (BM25)."""
        c = self.loaded.config
        if question is None:
            return RecallIndex(self.index_config, c.num_hidden_layers, c.vocab_size, keys=keys)
        if self.recall is not None and self.recall.scorer != "bm25":
            layers = layers_for(c.num_hidden_layers, self.index_config)
            return RecallIndex(self.index_config, c.num_hidden_layers, c.vocab_size,
                               self.question_queries(question, layers))
        return RecallIndex(self.index_config, c.num_hidden_layers, c.vocab_size, keys=False)

    def fits_whole(self, n_tokens: int, answer_tokens: int, question: str) -> bool:
        """Whether a document this long is re-read whole to answer (so reading it through the memory first
        would be wasted): it fits the model's window with the question twice and the answer (as in
        recall_prompt)."""
        asked = len(self.tokens.encode(question_header(question) + chat_turn(self, question)))
        return self.recall is not None and n_tokens <= self.recall.whole and \
            n_tokens + asked + answer_tokens + 8 <= self.loaded.context_window

    def index_text(self, index: RecallIndex, pieces: Iterable[str]) -> Reading:
        """Fill a recall index's token ids from text, without the model."""
        reading, t0 = Reading(), time.perf_counter()
        for ids in self.tokens.stream(pieces):
            index.ids.extend(ids)
            reading.tokens += len(ids)
        reading.seconds = time.perf_counter() - t0
        return reading

    def question_queries(self, question: str, layers: tuple[int, ...]) -> dict:
        """The question's pre-rotary queries at `layers`, read alone by the plain model."""
        engine = self.final_reader()
        state = engine.new_state()
        state.recall = QueryCapture(layers)
        engine.feed(state, self.tokens.encode(question))
        return state.recall.result()

    def recall_prompt(self, index: RecallIndex, question: str, prefix: str, suffix: str,
                      answer_tokens: int) -> tuple[list[int], list[Passage]]:
        """The ids to answer from: the question's best passages and the recent window between prefix and
        suffix, filling the model's window less the answer (famcli.retrieve.layout)."""
        options = self.recall or RecallOptions()
        decode = self.loaded.tokenizer.decode
        budget = self.loaded.context_window - answer_tokens - 8
        prefix_ids = self.loaded.tokenizer.encode(prefix, add_special_tokens=False)
        suffix_ids = self.loaded.tokenizer.encode(suffix, add_special_tokens=False)
        room = budget - len(prefix_ids) - len(suffix_ids)
        scores = None
        if index.n_tokens > min(room, options.whole):  # else layout() reads the document whole
            query = None if index.query is not None or options.scorer == "bm25" else \
                self.question_queries(question, index.layers)
            scores = score_chunks(index, question, options.scorer, decode, query)
        ids, passages = layout(index, scores, options, prefix_ids, suffix_ids, self.tokens.encode(SEPARATOR),
                               budget, self.config.window)
        for p in passages:
            p.text = decode(index.ids[p.start:p.end].tolist())
            p.place = index.place_at(p.start)
        return ids, passages

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


READING_HEADER = "Read the following document carefully. Questions about it will follow.\n\n"


def question_header(question: str) -> str:
    return f"Read the following document and answer this question about it: {question}\n\n"


@dataclass
class Answer:
    """What a question got: the answer, the passages (or sentences) it was read from, which path it took and
    whether it was cut at the token limit."""

    text: str
    passages: list[Passage]
    path: str  # passages | memory | memory alone | whole | quoted | not found
    truncated: bool = False

    def to_dict(self) -> dict:
        return {"answer": self.text, "answer_path": self.path, "truncated": self.truncated,
                "passages": [p.to_dict() for p in self.passages]}


ANSWER_NO_REPEAT = 4  # an answer may not repeat a 4-gram of its own: what stops a small model's loops


def ask(session: Session, state: State, question: str, max_tokens: int, sampling: Sampling,
        on_text: Callable[[str], None] | None = None) -> Answer:
    """The answer to a question about what was read (famcli.answer). With a recall index, the model answers
    from the sentences that match the question: from a fresh state on the passages path, after the memory's
    state on the memory path; without one (--no-recall), the question is asked after the memory. `on_text`
    gets the answer once it is checked."""
    index, state.recall = state.recall, None
    sampling = dataclasses.replace(sampling, no_repeat_ngram=max(sampling.no_repeat_ngram, ANSWER_NO_REPEAT))
    if session.recall is None or index is None:
        prompt = session.loaded.tokenizer.encode(chat_turn(session, question), add_special_tokens=False)
        text, cut = session.decode_answer(session.answerer(), state, prompt, max_tokens, sampling)
        return _shown(Answer(text, [], "memory alone", cut), on_text)
    evidence = session.evidence(index, question)
    if evidence.names_missing:
        return _shown(Answer(f"{NOT_FOUND} (it never mentions {evidence.names_missing[0]}.)", [], "not found"),
                      on_text)
    if not evidence.passages:
        if session.fits_whole(index.n_tokens, max_tokens, question):
            ids, passages = session.recall_prompt(index, question, question_header(question),
                                                  chat_turn(session, question), max_tokens)
            engine = session.final_reader()
            text, cut = session.decode_answer(engine, engine.new_state(), ids, max_tokens, sampling)
            return _shown(Answer(text, passages, "whole", cut), on_text)
        return _shown(Answer(f"{NOT_FOUND} (no passage matches the question's words.)", [], "not found"), on_text)
    memory = session.answers_from_memory

    def answer_from(sentences: list[str], limit: int) -> tuple[str, bool]:
        prompt = session.loaded.tokenizer.encode(chat_turn(session, evidence_prompt(sentences, question)),
                                                 add_special_tokens=False)
        if memory:
            engine, start = session.answerer(), state.clone()
        else:
            engine = session.final_reader()
            start = engine.new_state()
        return session.decode_answer(engine, start, prompt, limit, sampling)

    if session.answer_options.lists and asks_for_several(question):
        parts = session.several_parts(index, question)
        if len(parts) >= 2:
            return _shown(_item_by_item(session, parts, question, max_tokens, answer_from), on_text)
    if evidence.following:  # "why" / "how": the matching sentence and the ones after it, read together
        text, cut = answer_from(evidence.sentences, max_tokens)
        check = session.answer_options.check
        if not check or cut or (supported(text, evidence.sentences, question) and explains(text, evidence, question)):
            return _shown(Answer(text, evidence.passages, "memory" if memory else "passages", cut), on_text)
        told = evidence.passages[:2]  # the sentence and the one after it
        return _shown(Answer(quoted(" ".join(p.text for p in told)), told, "quoted"), on_text)
    tries = [evidence.sentences] + ([evidence.sentences[:1]] if len(evidence.sentences) > 1 else [])
    for sentences in tries:
        text, cut = answer_from(sentences, max_tokens)
        if not session.answer_options.check or cut or supported(text, sentences, question):
            return _shown(Answer(text, evidence.passages, "memory" if memory else "passages", cut), on_text)
    return _shown(Answer(quoted(evidence.sentences[0]), evidence.passages[:1], "quoted"), on_text)


ITEM_TOKENS = 60  # one item of a several-part answer: a short answer from one sentence


def _item_by_item(session: Session, passages: list[Passage], question: str, max_tokens: int,
                  answer_from: Callable[[list[str], int], tuple[str, bool]]) -> Answer:
    """A several-part answer: each matching sentence answered on its own (the model's short answer when the
    sentence supports it, else the sentence), repeats dropped, the items in document order as a list; each
    item's passage is its source, in the same order."""
    items, used, seen = [], [], set()
    for p in passages:
        item = p.text
        if session.answer_options.item_answers:
            text, cut = answer_from([p.text], min(ITEM_TOKENS, max_tokens))
            text = " ".join(text.split())
            if not cut and supported(text, [p.text], question):
                item = text
        key = item_key(item)
        if key and key not in seen:
            seen.add(key)
            items.append(item)
            used.append(p)
    return Answer(list_text(items), used, "items")


def finished_paragraph(text: str) -> bool:
    """Whether the text ends in a blank line after a finished sentence (not after a lead-in to a list ending in
    ":" or an item without a full stop): the default model's answer is done there, and goes on to comment on
    it ("In this context, the answer is ...")."""
    if not text.endswith("\n\n"):
        return False
    body = text.rstrip()
    return bool(body) and body[-1] in ".!?\"'”’)" and not body.endswith(":")


def repeated_line(text: str) -> str | None:
    """The text before its last complete line when that line repeats an earlier one (a model writing a list
    that starts over), else None."""
    lines = text.split("\n")[:-1]  # complete lines
    said = [" ".join(line.split()) for line in lines]
    if len(said) < 2 or not said[-1] or said[-1] not in said[:-1]:
        return None
    return "\n".join(lines[:-1]).strip()


def _shown(answer: Answer, on_text: Callable[[str], None] | None) -> Answer:
    if answer.truncated:
        answer.text = answer.text.rstrip() + "\u2026"
    if on_text is not None and answer.text:
        on_text(answer.text)
    return answer


NOTE_INSTRUCTION = "Summarize the text above in one sentence."
NO_REPEAT = 3  # notes and summaries of a 135M model loop without it


def chat_turn(session: Session, instruction: str) -> str:
    """The instruction as a user turn of the model's chat template (plain text when it has none)."""
    tok = session.loaded.tokenizer
    if not getattr(tok, "chat_template", None):
        return f"\n\n{instruction}\n"
    turn = tok.apply_chat_template([{"role": "user", "content": instruction}], tokenize=False,
                                   add_generation_prompt=True)
    user = turn.find("<|im_start|>user")  # a default system turn only distracts a small model here
    return "\n" + (turn[user:] if user > 0 else turn)


def note_on(session: Session, state: State, max_tokens: int = 40) -> str:
    """A one-sentence note about what the memory holds now, on a copy of the state."""
    return session.complete(state.clone(), chat_turn(session, NOTE_INSTRUCTION), max_tokens,
                            Sampling(no_repeat_ngram=NO_REPEAT), stop=("\n\n",))
