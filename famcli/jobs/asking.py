"""Answering a question about what was read: the model's side of the answer path (docs/recall.md, "The answer
path"; famcli.jobs.answer finds the evidence and checks answers without the model). `ask` picks how a question is
answered (the memory alone, the document whole, item by item, a why and the sentence after it, or the evidence
sentences) and returns an `Answer`; `ask_document` is the ask command's work: read (or load) the document, ask.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from famcli.core.engine import State
from famcli.core.generate import Sampling
from famcli.documents.until import Until
from famcli.jobs.answer import (
    NOT_FOUND,
    asks_for_several,
    evidence_prompt,
    explains,
    item_key,
    list_text,
    quoted,
    supported,
)
from famcli.jobs.lookup import Reading
from famcli.jobs.reading import count_tokens, document_id, loaded_reading, payload, read_document, saving_on_stop
from famcli.jobs.report import UNREAD_NOTE, Reporter, Silent
from famcli.models.prompts import READING_HEADER, chat_turn, question_header
from famcli.recall.text import Passage, bm25_scores
from famcli.text.sentences import split_sentences

if TYPE_CHECKING:  # annotations only
    from famcli.jobs.session import Session


@dataclass
class Answer:
    """What a question got: the answer, the passages (or sentences) it was read from, which path it took and
    whether it was cut at the token limit."""

    text: str
    passages: list[Passage]
    path: str  # latest | gathered | chosen | own | memory | memory alone | whole | items | quoted | not found
    truncated: bool = False
    short: str | None = None  # the answer alone, without a quote around it (None: the text)
    sentence: str = ""  # the sentence of the evidence that says it
    unread: bool = False  # its passages are in a script the model cannot read (quoted, not read)
    candidates: list[dict] = field(default_factory=list)  # (path "gathered") the names weighed, best first

    def to_dict(self) -> dict:
        return {"answer": self.text, "short": self.text if self.short is None else self.short,
                "answer_path": self.path, "truncated": self.truncated, "sentence": self.sentence,
                "unread_script": self.unread, "candidates": self.candidates,
                "passages": [p.to_dict() for p in self.passages]}


ANSWER_NO_REPEAT = 4  # an answer may not repeat a 4-gram of its own: what stops a small model's loops


def ask(session: Session, state: State, question: str, max_tokens: int, sampling: Sampling,
        on_text: Callable[[str], None] | None = None) -> Answer:
    """The answer to a question about what was read (famcli.jobs.answer). With a recall index, the model answers
    from the sentences that match the question: from a fresh state on the passages path, after the memory's
    state on the memory path; without one (--no-recall), the question is asked after the memory. `on_text`
    gets the answer once it is checked. The reading (`state`, its recall index) is left as it was: every answer
    is decoded on a copy of the state or a fresh one, so a conversation asks each question of the same reading."""
    index = state.recall
    sampling = dataclasses.replace(sampling, no_repeat_ngram=max(sampling.no_repeat_ngram, ANSWER_NO_REPEAT))
    if session.recall is None or index is None:
        tok = session.loaded.tokenizer
        prompt = tok.encode(chat_turn(tok, question), add_special_tokens=False)
        text, cut = session.decode_answer(session.answerer(), state.clone(), prompt, max_tokens, sampling)
        return _shown(Answer(text, [], "memory alone", cut), on_text)
    if not session.answers_from_memory:
        if session.lookup.answer_options.lists and asks_for_several(question) and \
                not _asks_for_the_author(session, index, question):  # "Who are the authors of this book?"
            parts = session.lookup.several_parts(index, question)
            if len(parts) >= 2:
                return _shown(_item_by_item(session, parts, question, max_tokens,
                                            lambda sentences, limit: _plain_answer(session, sentences, question,
                                                                                   limit, sampling)), on_text)
        return _shown(_from_passages(session, index, question, max_tokens, sampling), on_text)
    if _asks_for_the_author(session, index, question):  # the file's author, not a name the memory read in the story
        from famcli.answer.ask import written_by

        found = written_by(session.lookup.passages(index))
        return _shown(Answer(found.text, [], found.how, short=found.short, sentence=found.sentence), on_text)
    evidence = session.lookup.evidence(index, question)
    if evidence.names_missing:
        return _shown(Answer(f"{NOT_FOUND} (it never mentions {evidence.names_missing[0]}.)", [], "not found"),
                      on_text)
    if not evidence.passages:
        if session.fits_whole(index.n_tokens, max_tokens, question):
            ids, passages = session.lookup.recall_prompt(index, question, question_header(question),
                                                  chat_turn(session.loaded.tokenizer, question), max_tokens)
            engine = session.final_reader()
            text, cut = session.decode_answer(engine, engine.new_state(), ids, max_tokens, sampling)
            return _shown(Answer(text, passages, "whole", cut), on_text)
        return _shown(Answer(f"{NOT_FOUND} (no passage matches the question's words.)", [], "not found"), on_text)
    memory = session.answers_from_memory
    answer_from = _answering(session, state, question, sampling)
    if session.lookup.answer_options.lists and asks_for_several(question):
        parts = session.lookup.several_parts(index, question)
        if len(parts) >= 2:
            return _shown(_item_by_item(session, parts, question, max_tokens, answer_from), on_text)
    if evidence.following:  # "why" / "how": the matching sentence and the ones after it, read together
        text, cut = answer_from(evidence.sentences, max_tokens)
        check = session.lookup.answer_options.check
        if not check or cut or (supported(text, evidence.sentences, question) and explains(text, evidence, question)):
            return _shown(Answer(text, evidence.passages, "memory" if memory else "passages", cut), on_text)
        told = evidence.passages[:2]  # the sentence and the one after it
        return _shown(Answer(quoted(" ".join(p.text for p in told)), told, "quoted"), on_text)
    tries = [evidence.sentences] + ([evidence.sentences[:1]] if len(evidence.sentences) > 1 else [])
    for sentences in tries:
        text, cut = answer_from(sentences, max_tokens)
        if not session.lookup.answer_options.check or cut or supported(text, sentences, question):
            return _shown(Answer(text, evidence.passages, "memory" if memory else "passages", cut), on_text)
    from famcli.answer.ask import asks_or_heads

    # the best sentence that does not ask a question or head a chapter (the best one when all of them do)
    told = next((p for p in evidence.passages if not asks_or_heads(p.text)), evidence.passages[0])
    return _shown(Answer(quoted(told.text), [told], "quoted"), on_text)


def _plain_answer(session: Session, sentences: list[str], question: str, limit: int,
                  sampling: Sampling) -> tuple[str, bool]:
    """The plain model's answer from sentences alone (an item of a several-part answer)."""
    engine = session.final_reader()
    prompt = session.lookup.scorer_encode(chat_turn(session.loaded.tokenizer, evidence_prompt(sentences, question)))
    return session.decode_answer(engine, engine.new_state(), prompt, limit, sampling)


SHORT_TOKENS = 48  # the model's own short answer, one candidate among the passages' spans


def _asks_for_the_author(session: Session, index, question: str) -> bool:
    """famcli.answer.front's test, the question's form first: the passages (a BM25 index of the whole document)
    are built only for a question that says something was written, not for every list question."""
    from famcli.answer.front import AUTHORING, asks_for_the_author

    if not session.lookup.rules.front or not AUTHORING.search(question):
        return False
    passages = session.lookup.passages(index)
    return asks_for_the_author(question, passages.front, passages.text)


def _from_passages(session: Session, index, question: str, max_tokens: int, sampling: Sampling) -> Answer:
    """famcli.answer: the best passages re-ranked and read by the model, which chooses the answer."""
    from famcli.answer.ask import answer

    engine = session.final_reader()
    encode = session.lookup.scorer_encode

    def generate(instruction: str) -> tuple[str, bool]:
        prompt = encode(chat_turn(session.loaded.tokenizer, instruction))
        return session.decode_answer(engine, engine.new_state(), prompt, min(SHORT_TOKENS, max_tokens), sampling)

    room = session.loaded.context_window - min(SHORT_TOKENS, max_tokens) - 8

    def fits(instruction: str) -> bool:
        return len(encode(chat_turn(session.loaded.tokenizer, instruction))) <= room

    found = answer(session.lookup.passages(index), question, session.lookup.scorer().loglik, generate,
                   lambda instruction: chat_turn(session.loaded.tokenizer, instruction), session.lookup.rules, fits,
                   session.tokens.reads)
    passages, shown = session.lookup.passages(index), []
    for k, p in enumerate(found.passages):  # each source shows, and is placed at, the sentence that says it
        text = _shown_sentence(p.text, question, found.said[k] if found.said else found.sentence)
        first = passages.token_of(p, text[:40])
        shown.append(Passage(first, max(p.last, first + 1), 0.0, text))
    for p in shown:
        p.place = index.place_at(p.start)
    text = found.text
    if found.how == "latest" and shown:  # where the latest statement stands in the document
        at = shown[-1]
        text += f" ({at.place[0]} {at.place[1]})" if at.place else f" (token {at.start:,} of {index.n_tokens:,} read)"
    return Answer(text, shown, found.how, found.truncated, short=found.short, sentence=found.sentence,
                  unread=found.unread,
                  candidates=[{"name": g.name, "share": round(g.share, 3)} for g in found.gathered])


def _shown_sentence(passage: str, question: str, said: str) -> str:
    """What a source shows of its passage: the sentence that says the answer, when it is in it, else the
    passage from its sentence that best matches the question."""
    if said and said in " ".join(passage.split()):
        return said
    sentences = split_sentences(passage)
    if not sentences:
        return passage
    best = int(np.argmax(bm25_scores([s for _, s in sentences], question)))
    return passage[sentences[best][0]:]


ITEM_TOKENS = 60  # one item of a several-part answer: a short answer from one sentence


def _item_by_item(session: Session, passages: list[Passage], question: str, max_tokens: int,
                  answer_from: Callable[[list[str], int], tuple[str, bool]]) -> Answer:
    """A several-part answer: each matching sentence answered on its own (the model's short answer when the
    sentence supports it, else the sentence), repeats dropped, the items in document order as a list; each
    item's passage is its source, in the same order."""
    items, used, seen = [], [], set()
    for p in passages:
        item = p.text
        if session.lookup.answer_options.item_answers:
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


def _answering(session: Session, state: State, question: str, sampling: Sampling):
    """How the model answers from given sentences: after the memory's state on the memory path, from a fresh
    state otherwise; (sentences, token limit) -> (text, cut)."""
    def answer_from(sentences: list[str], limit: int) -> tuple[str, bool]:
        tok = session.loaded.tokenizer
        prompt = tok.encode(chat_turn(tok, evidence_prompt(sentences, question)), add_special_tokens=False)
        if session.answers_from_memory:
            engine, start = session.answerer(), state.clone()
        else:
            engine = session.final_reader()
            start = engine.new_state()
        return session.decode_answer(engine, start, prompt, limit, sampling)

    return answer_from


def _shown(answer: Answer, on_text: Callable[[str], None] | None) -> Answer:
    if answer.truncated:
        answer.text = answer.text.rstrip() + "\u2026"
    if on_text is not None and answer.text:
        on_text(answer.text)
    return answer


def ask_document(session: Session, file: str, question: str, password=None, max_tokens: int = 200,
                 sampling: Sampling = Sampling(), save_state: Path | None = None, load_state: Path | None = None,
                 reporter: Reporter = Silent(), until: Until | None = None) -> dict:
    """On the passages path the document is only tokenised and indexed, and the answer is read from the
    sentences that match the question; on the memory path it is read through the memory first (the question
    before it) and the answer is read after the memory's state (Session.answer_path)."""
    t_start, document = time.perf_counter(), document_id(file)
    if load_state is not None:
        state = loaded_reading(session, load_state, document, reporter)
        # a reading saved on the passages path read nothing through the model: its index holds the document
        reading = Reading(tokens=state.n_tokens or (state.recall.n_tokens if state.recall is not None else 0))
    else:
        path, why = session.answer_path()
        state = session.new_state(None if save_state or path == "passages" else question)  # passages: no model read
        # a saved reading must serve any question: a generic header (measured: better than none)
        prefix = READING_HEADER if save_state else question_header(question)
        index = None if session.recall is None else session.lookup.new_index(None if save_state else question)
        total = count_tokens(session, file, password, until=until)
        with saving_on_stop(session, state, save_state, reporter, document):
            reading = read_document(session, state, file, password, reporter, prefix=prefix, index=index,
                                    total=total, index_only=index is not None and path == "passages", until=until)
        reporter.note(f"Answering from {'the memory' if path == 'memory' else 'passages'}: {why}.")
    index = state.recall
    t_answer = time.perf_counter()
    answer = ask(session, state, question, max_tokens, sampling)
    if answer.truncated:
        reporter.note(f"Note: the answer was cut at {max_tokens} tokens (--max-tokens gives it more).")
    if answer.unread:
        reporter.note(UNREAD_NOTE)
    extra = answer.to_dict()
    if index is not None:
        extra["recall"] = {**dataclasses.asdict(session.recall), "bytes_per_token": index.bytes_per_token()}
    result = payload("ask", session, reading, t_start, question=question, **extra)
    result["timings"]["answer_seconds"] = round(time.perf_counter() - t_answer, 3)
    return result
