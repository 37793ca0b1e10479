"""The answer path (famcli.jobs.answer, famcli.jobs.asking.ask): sentences as evidence, the check on answers, and which path a
document takes: the passages path never runs the model before the question; the memory path answers after the
memory's state."""

from __future__ import annotations

import pytest
from conftest import FILLER, NEEDLE

from famcli.core.generate import Sampling
from famcli.jobs.answer import (
    NOT_FOUND,
    asks_for_several,
    finished_paragraph,
    question_names,
    repeated_line,
    split_sentences,
    supported,
)
from famcli.jobs.asking import ask_document
from famcli.jobs.session import Session
from famcli.models.loading import load_model
from famcli.models.runtime import prepare
from famcli.recall.search import RecallOptions


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
    memo = "## Summary\nRevenue rose 12%. Costs\nwere flat.\n### Risks\nThe lease ends."  # Markdown headings
    found = split_sentences(memo)
    assert [s for _, s in found] == ["## Summary", "Revenue rose 12%.", "Costs were flat.", "### Risks",
                                     "The lease ends."]
    assert all(memo[o:].startswith(s.split()[0]) for o, s in found)


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
    ("The pass key 48213 and the others are:", False),  # a lead-in, whatever it holds
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
    assert fed == [] and result["answer_path"] in ("own", "chosen", "quoted")
    assert result["tokens_read"] > 2048 and any("bluebird" in p["snippet"] for p in result["passages"])
    assert result["passages"][0]["snippet"].startswith(NEEDLE.strip())  # a quote shows the sentence after it too


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


def test_the_memory_path_answers_who_wrote_it_from_the_front_matter(tiny, tmp_path, monkeypatch):
    """`--answer-from memory` too: "Who wrote this book?" is the file's, never a name of the story the memory read."""
    book = tmp_path / "book.txt"
    book.write_text("Title: The Orchard House\nAuthor: Mary Quennell\n\n\n"
                    + "Tom Hale wrote the letter in the spring, and Orla read it by the window. " * 200)
    session = session_for(tiny, "memory")
    monkeypatch.setattr(session, "decode_answer", lambda *a: pytest.fail("the model was asked"))
    result = ask_document(session, str(book), "Who wrote this book?")
    assert result["answer"].startswith("Mary Quennell.") and result["answer_path"] == "front"


def test_the_memory_path_never_quotes_a_question(tiny, tmp_path, monkeypatch):
    """Unsure on the memory path, the quote is the best matching sentence that does not ask a question: "And where
    does Orla live now?" matches the question best and says nothing."""
    book = tmp_path / "book.txt"
    book.write_text("The weather was fine and the roads were dry all that month. " * 60
                    + "\n\nAnd where does Orla live now? Orla does live in Dunmore now, by the harbour.\n\n"
                    + "The garden was full of roses and the gardeners were painting them. " * 60)
    session = session_for(tiny, "memory")
    monkeypatch.setattr(session, "decode_answer", lambda *a: ("Nothing.", False))
    result = ask_document(session, str(book), "Where does Orla live?")
    assert result["answer_path"] == "quoted"
    assert result["answer"] == "The document says: \u201cOrla does live in Dunmore now, by the harbour.\u201d"


def test_a_cut_answer_is_marked(tiny, long_doc):
    session = session_for(tiny, "passages")
    from famcli.answer.rules import Rules

    session.lookup.rules = Rules(check=False)  # the model's own answer, cut at 2 tokens, is the answer
    result = ask_document(session, str(long_doc), "What is the secret password?", max_tokens=2)
    assert result["truncated"] is True and result["answer"].endswith("\u2026")


@pytest.mark.parametrize("question, several", [
    ("What are the ingredients of the tonic?", True), ("Who were the members of the committee?", True),
    ("Which towns did she pass through?", True), ("What tools did the cooper keep?", True),
    ("List the rooms of the house.", True), ("Name the three brothers.", True),
    ("What is the pass key?", False), ("Which access number was given?", False), ("What happens at the end?", False),
    ("Who approved the release?", False), ("How many sacks did the mill grind?", False),
    ("Which estate does Mr. Darcy own?", False), ("Which harpooneer shares a bed with Ishmael?", False),
])
def test_questions_that_ask_for_several_things(question, several):
    assert asks_for_several(question) is several


ITEMS = ["The first thing the Morrow tonic needs is crushed amber.",
         "Nobody can brew the Morrow tonic without pale moss.",
         "Into the Morrow tonic, the recipe says, goes river salt."]


def test_a_several_part_question_gets_one_item_from_each_passage(tiny, tmp_path):
    """Three items on three pages, a distractor of the same kind elsewhere: the answer lists the three, each
    its own document sentence, in document order, each with its passage."""
    path = tmp_path / "essays.txt"
    distractor = "The market sold dried pepper by the sack. "
    path.write_text(FILLER * 30 + ITEMS[0] + " " + FILLER * 30 + distractor + FILLER * 10 + ITEMS[1] + " "
                    + FILLER * 30 + ITEMS[2] + " " + FILLER * 20)
    result = ask_document(session_for(tiny), str(path), "What are the ingredients of the Morrow tonic?", max_tokens=8)
    assert result["answer_path"] == "items" and result["answer"].splitlines() == [f"- {item}" for item in ITEMS]
    assert [p["snippet"] for p in result["passages"]] == ITEMS and "pepper" not in result["answer"]
    starts = [p["start_token"] for p in result["passages"]]
    assert starts == sorted(starts)


def test_a_looping_list_is_stopped_at_its_first_repeat(tiny, monkeypatch):
    import famcli.jobs.session as tasks

    session = session_for(tiny)
    tok = session.loaded.tokenizer
    looping = tok.encode("- the grass\n- the pass key\n- the grass\n- the pass key\n" * 10, add_special_tokens=False)
    monkeypatch.setattr(tasks, "stream_tokens", lambda *a, **k: iter(looping))
    engine = session.final_reader()
    text, cut = session.decode_answer(engine, engine.new_state(), [1, 2], 500, Sampling())
    assert text == "- the grass\n- the pass key" and cut is False
    assert repeated_line("a\nb\nc\n") is None and repeated_line("a\nb\na\n") == "a\nb"


LIST_ANSWER = "The password and the animal are\n- bluebird\n- the red fox"


@pytest.fixture
def lists_answers(monkeypatch):
    """A model that answers with a newline-separated list."""
    monkeypatch.setattr(Session, "decode_answer", lambda self, *a: (LIST_ANSWER, False))


def test_a_list_answer_reaches_stdout_and_json_whole(tiny, tmp_path, capsys, lists_answers):
    import json

    from famcli.__main__ import main

    doc = tmp_path / "doc.txt"
    doc.write_text("The red fox lives in the forest.\nThe secret password is bluebird.\nThe end.\n")
    unchecked = ["--answer-rules", "check=off"]  # the stand-in model's list is the answer as it wrote it
    assert main(["ask", str(doc), "What is the secret password?", "--model", tiny, "-q", *unchecked]) == 0
    assert capsys.readouterr().out == LIST_ANSWER + "\n"
    assert main(["ask", str(doc), "What is the secret password?", "--model", tiny, "-q", "--json", *unchecked]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer"] == LIST_ANSWER and out["truncated"] is False


def test_a_list_answer_reaches_piped_chat_whole(tiny, tmp_path, capsys, lists_answers, monkeypatch):
    import io
    import json
    import sys

    from famcli.__main__ import main

    doc = tmp_path / "doc.txt"
    doc.write_text("The red fox lives in the forest.\nThe secret password is bluebird.\nThe end.\n")
    questions = b"What is the secret password?\nWhere does the fox live?\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(questions)))
    assert main(["chat", str(doc), "--model", tiny, "-q", "--answer-rules", "check=off"]) == 0
    assert capsys.readouterr().out == (LIST_ANSWER + "\n\n") * 2  # each list, then a blank line
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(questions)))
    assert main(["chat", str(doc), "--model", tiny, "-q", "--json", "--answer-rules", "check=off"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["answer"] for r in records] == [LIST_ANSWER] * 2


def test_a_finished_paragraph_ends_an_answer_but_a_lead_in_does_not():
    assert finished_paragraph("Pungin crossed the river at dawn.\n\n")
    assert not finished_paragraph("The ingredients are:\n\n")  # a list follows
    assert not finished_paragraph("- moonwater\n\n")  # an item, not a finished sentence
    assert not finished_paragraph("Pungin crossed the river at dawn.\n")


def test_why_takes_the_sentences_after_the_one_that_matches(tiny, tmp_path):
    """(The memory path's evidence: famcli.jobs.answer.) A reason seldom repeats the question's words: the evidence for "why" is the matching sentence and the
    ones after it, and an answer that only restates the first is not taken (the two sentences are quoted)."""
    from famcli.jobs.answer import Evidence, explains

    path = tmp_path / "story.txt"
    path.write_text(FILLER * 30 + "Orla Quennell left Dunmore in the spring. The harvest had failed for the third "
                    "time, and the bank had called in the loan. " + FILLER * 30)
    session = session_for(tiny)
    index = session.lookup.new_index()
    from famcli.documents.registry import open_document

    session.lookup.index_text(index, open_document(str(path)).pieces)
    evidence = session.lookup.evidence(index, "Why did Orla Quennell leave Dunmore?")
    assert evidence.following >= 1 and evidence.sentences[0] == "Orla Quennell left Dunmore in the spring."
    assert evidence.sentences[1].startswith("The harvest had failed")
    question = "Why did Orla Quennell leave Dunmore?"
    assert explains("She left because the harvest had failed.", evidence, question)
    assert not explains("Orla Quennell left Dunmore in the spring.", evidence, question)
    assert explains("anything", Evidence(evidence.passages, [], True, 0), question)  # not a why: no demand


@pytest.mark.parametrize("answer_from", ["passages", "memory"])
def test_asking_leaves_the_reading_as_it_was(tiny, tmp_path, answer_from):
    """`ask` answers on a copy of the state or a fresh one: the caller's state keeps its recall index, its token
    count and its buffers, with a recall index and without one (no hidden effect for the caller to undo)."""
    import torch

    from famcli.jobs.asking import ask
    from famcli.jobs.reading import read_document

    doc = tmp_path / "doc.txt"
    doc.write_text("The lighthouse keeper was called Ansel Brack. He lived on the rock for thirty years.\n" * 20)
    for recall in (True, False):
        session = session_for(tiny, answer_from)
        if not recall:
            session.recall = None
        state = session.new_state(None)
        index = session.lookup.new_index(None) if recall else None
        read_document(session, state, str(doc), None, index=index)
        before = (state.recall, state.n_tokens, state.k.clone())
        assert (before[0] is not None) == recall
        ask(session, state, "Who was the lighthouse keeper?", 8, Sampling())
        assert state.recall is before[0] and state.n_tokens == before[1] and torch.equal(state.k, before[2])
