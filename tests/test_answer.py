"""The answer path (famcli.answer, famcli.tasks.ask): sentences as evidence, the check on answers, and which path a
document takes: the passages path never runs the model before the question; the memory path answers after the
memory's state."""

from __future__ import annotations

import pytest
from conftest import NEEDLE

from famcli.answer import NOT_FOUND, question_names, split_sentences, supported
from famcli.jobs import ask_document
from famcli.models import load_model
from famcli.retrieve import RecallOptions
from famcli.runtime import prepare
from famcli.tasks import Session

def session_for(tiny: str, answer_from: str = "auto", memory: str = "auto") -> Session:
    loaded, config = prepare(load_model(tiny, dtype="fp32"), memory, "none")
    return Session(loaded, config, RecallOptions(answer_from=answer_from))


def test_sentences_of_prose_and_of_a_log():
    prose = "It rained. \u201cWho said so?\u201d asked Tom.\nThe wrapped line goes\non here. Done!"
    assert [s for _, s in split_sentences(prose)] == ["It rained.", "\u201cWho said so?\u201d", "asked Tom.",
                                                      "The wrapped line goes on here.", "Done!"]
    log = "\n".join(f"2026-03-01T10:00:{i:02d}Z INFO api: request {i} served" for i in range(5))
    assert len(split_sentences(log)) == 5
    offsets = [o for o, _ in split_sentences(log)]
    assert all(log[o:].startswith("2026") for o in offsets)


def test_question_names():
    assert question_names("Who signed the telegram from Valletta?") == ["Valletta"]
    assert question_names("What is Orla Quennell's favourite colour?") == ["Orla Quennell"]
    assert question_names("What is the pass key?") == []


@pytest.mark.parametrize("answer, ok", [
    ("The pass key is 48213.", True),
    ("The pass key is 48214.", False),  # a number the evidence does not hold
    ("The pass key is a small silver key.", False),  # nothing particular, though it asks for a key
    ("The pass key.", False),  # only the question's words
    ("", False),
])
def test_an_answer_must_bring_what_the_evidence_says(answer, ok):
    evidence = ["The pass key is 48213. Remember it.", "The sky was grey over the harbour."]
    assert supported(answer, evidence, "What is the pass key?") is ok


def test_an_invented_name_is_refused():
    evidence = ["The doctor who treated the sailors was named Lorcan Abernathy."]
    question = "Who looked after the sailors?"
    assert supported("Lorcan Abernathy looked after them.", evidence, question)
    assert not supported("Captain Ahab looked after them.", evidence, question)


def test_passages_path_never_runs_the_model_before_the_question(tiny, long_doc, monkeypatch):
    session = session_for(tiny)
    assert session.answer_path()[0] == "passages"
    fed = []
    monkeypatch.setattr(session.engine, "feed", lambda state, ids: fed.append(len(ids)))  # the memory's engine
    result = ask_document(session, str(long_doc), "What is the secret password?", max_tokens=4)
    assert fed == [] and result["answer_path"] in ("passages", "quoted")
    assert result["tokens_read"] > 2048 and any("bluebird" in p["snippet"] for p in result["passages"])
    assert result["passages"][0]["snippet"] == NEEDLE.strip()


def test_memory_path_answers_after_the_memory_state(tiny, long_doc, monkeypatch):
    """--answer-from memory reads every token through the memory, then decodes from (a clone of) that state."""
    session = session_for(tiny, "memory")
    seen = []
    decode = session.decode_answer

    def spy(engine, state, prompt_ids, max_tokens, sampling):
        seen.append((engine, state.n_tokens))
        return decode(engine, state, prompt_ids, max_tokens, sampling)

    monkeypatch.setattr(session, "decode_answer", spy)
    result = ask_document(session, str(long_doc), "What is the secret password?", max_tokens=3)
    assert result["answer_path"] in ("memory", "quoted") and seen
    engine, n_tokens = seen[0]
    assert engine is session.answerer() and n_tokens >= result["tokens_read"]


def test_a_trained_memory_takes_the_memory_path(tiny):
    session = session_for(tiny, memory="fam")
    assert session.answer_path()[0] == "passages"  # zero-shot FAM: untrained, carries nothing
    session.loaded.adapter = type("A", (), {"mode": "fam"})()
    assert session.answer_path() == ("memory", "the trained fam memory carries what it read")


def test_a_name_the_document_never_mentions_is_not_found_without_the_model(tiny, long_doc, monkeypatch):
    session = session_for(tiny)
    monkeypatch.setattr(session, "decode_answer", lambda *a: pytest.fail("the model was asked"))
    result = ask_document(session, str(long_doc), "What is the name of Wilhelmina Strand's dog?")
    assert result["answer"].startswith(NOT_FOUND) and result["answer_path"] == "not found"


def test_a_cut_answer_is_marked(tiny, long_doc):
    session = session_for(tiny, "passages")
    session.answer_options = type(session.answer_options)(check=False)
    result = ask_document(session, str(long_doc), "What is the secret password?", max_tokens=2)
    assert result["truncated"] is True and result["answer"].endswith("\u2026")
