"""Finding things in a document without reading it through the memory: its recall index, the passages a
question is answered from and the sentences that answer it (docs/recall.md, docs/answers.md).

Built by each session (famcli.jobs.session.Session.lookup); needs the tokenizer, the recall options and, for the
attention scorers' question queries, the plain model.
"""

from __future__ import annotations

import dataclasses
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from famcli.jobs.answer import AnswerOptions, ChunkSearch, Evidence, find_evidence, several_parts
from famcli.models.tokens import Tokens
from famcli.recall.index import QueryCapture, RecallConfig, RecallIndex, layers_for
from famcli.recall.search import SEPARATOR, RecallOptions, layout, score_chunks
from famcli.recall.text import Passage

if TYPE_CHECKING:  # annotations only
    from famcli.core.engine import Engine
    from famcli.models.loading import LoadedModel


@dataclass
class Reading:
    """What one pass over a document did."""

    tokens: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


class Lookup:
    """A session's recall: `options` None answers from the memory alone (--no-recall); `answer_options` say how
    the sentences that answer are chosen (their candidates: the sentences of twice --recall-blocks passages)."""

    def __init__(self, loaded: LoadedModel, tokens: Tokens, options: RecallOptions | None,
                 index_config: RecallConfig, answer_options: AnswerOptions, plain: Callable[[], Engine],
                 window: int):
        self.options = options
        self.index_config = index_config
        self.answer_options = answer_options if options is None else \
            dataclasses.replace(answer_options, chunks=2 * options.blocks)
        self.tokens = tokens
        self._tokenizer, self._model_config = loaded.tokenizer, loaded.config
        self._context_window, self._plain, self._window = loaded.context_window, plain, window
        self.rules = (options or RecallOptions()).rules
        self._passages = None
        self._searches: weakref.WeakKeyDictionary[RecallIndex, ChunkSearch] = weakref.WeakKeyDictionary()

    def new_index(self, question: str | None = None, keys: bool = True) -> RecallIndex:
        """A recall index to hang on a state before reading; with the question, it keeps only scores.
        Without it, `keys` keeps representative keys (any scorer later) or only the token ids (BM25)."""
        c = self._model_config
        if question is None:
            return RecallIndex(self.index_config, c.num_hidden_layers, c.vocab_size, keys=keys)
        if self.options is not None and self.options.scorer != "bm25":
            layers = layers_for(c.num_hidden_layers, self.index_config)
            return RecallIndex(self.index_config, c.num_hidden_layers, c.vocab_size,
                               self.question_queries(question, layers))
        return RecallIndex(self.index_config, c.num_hidden_layers, c.vocab_size, keys=False)

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
        engine = self._plain()
        state = engine.new_state()
        state.recall = QueryCapture(layers)
        engine.feed(state, self.tokens.encode(question))
        return state.recall.result()

    def recall_prompt(self, index: RecallIndex, question: str, prefix: str, suffix: str,
                      answer_tokens: int) -> tuple[list[int], list[Passage]]:
        """The ids to answer from: the question's best passages and the recent window between prefix and
        suffix, filling the model's window less the answer (famcli.recall.search.layout)."""
        options = self.options or RecallOptions()
        decode = self._tokenizer.decode
        budget = self._context_window - answer_tokens - 8
        prefix_ids = self._tokenizer.encode(prefix, add_special_tokens=False)
        suffix_ids = self._tokenizer.encode(suffix, add_special_tokens=False)
        room = budget - len(prefix_ids) - len(suffix_ids)
        scores = None
        if index.n_tokens > min(room, options.whole):  # else layout() reads the document whole
            query = None if index.query is not None or options.scorer == "bm25" else \
                self.question_queries(question, index.layers)
            scores = score_chunks(index, question, options.scorer, decode, query)
        ids, passages = layout(index, scores, options, prefix_ids, suffix_ids, self.tokens.encode(SEPARATOR),
                               budget, self._window)
        for p in passages:
            p.text = decode(index.ids[p.start:p.end].tolist())
            p.place = index.place_at(p.start)
        return ids, passages

    def passages(self, index: RecallIndex):
        """The document's passages and their BM25 index (famcli.answer.find), built once per reading."""
        from famcli.answer.find import Passages

        # the index itself, not its id(): a batch worker's next document may get a freed index's id and length
        if self._passages is None or self._passages[0] is not index or self._passages[1] != index.n_tokens:
            decode, pieces = self._tokenizer.decode, []
            for c in range(index.n_chunks):
                a, b = index.chunk_span(c)
                pieces.append((decode(index.ids[a:b].tolist()), a))
            self._passages = (index, index.n_tokens, Passages.from_pieces(pieces, self.rules.words))
            self._passages[2].front = getattr(index, "front", "")  # a reading saved before it has none
        return self._passages[2]

    def scorer(self):
        """The model's log-likelihoods (famcli.answer.score) from the plain model."""
        from famcli.answer.score import Scorer

        return Scorer(self._plain(), self.scorer_encode)

    def scorer_encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False)  # chat special tokens are read as such

    def evidence(self, index: RecallIndex, question: str) -> Evidence:
        """The sentences that match a question (famcli.jobs.answer)."""
        return find_evidence(index, question, self._tokenizer.decode, self.answer_options, self._search(index))

    def several_parts(self, index: RecallIndex, question: str) -> list[Passage]:
        """The sentences that may each answer part of a question that asks for several things."""
        return several_parts(index, question, self._tokenizer.decode, self.answer_options, self._search(index))

    def _search(self, index: RecallIndex) -> ChunkSearch:
        """The chunks' text and BM25 index, built once per reading: a conversation's later questions only score."""
        search = self._searches.get(index)
        if search is None or search.n_chunks != index.n_chunks:
            search = self._searches[index] = ChunkSearch(index, self._tokenizer.decode)
        return search
