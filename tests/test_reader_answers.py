"""The answer path for a reader's question (famcli.answer): names as a reader types them, candidates of the kind
asked for, the check that a sentence says the answer about the question's subject, the quote when unsure, and
the path end to end with a scripted model (a stand-in that scores by rules the test states)."""

from __future__ import annotations

import pytest

from famcli.answer.ask import NOT_FOUND, Found, answer, missing_names, quote
from famcli.answer.find import Passage, Passages, cut_passages
from famcli.answer.gather import gather
from famcli.answer.now import was_before, where_now, where_now_subject
from famcli.answer.read import asks_for_a_name, candidates, kind, sentences_saying
from famcli.answer.rules import Rules
from famcli.answer.text import name_words
from famcli.text.words import fold


def passages(text: str, size: int = 60) -> Passages:
    return Passages(text, size)


@pytest.mark.parametrize("typed, written", [
    ("Zoe", "Zoë"), ("Andres", "Andrés"), ("ANDRES", "andrés"), ("Muller", "Müller"), ("Francois", "François"),
])
def test_folding_drops_case_and_accent_marks(typed, written):
    assert fold(typed) == fold(written)


@pytest.mark.parametrize("question", [
    "Where does Zoe live?",                               # accents in the book, none typed
    "Which city is Victor Frankenstein's family from?",   # the two words never side by side
    "What killed Julia Stoner?",                          # first and last name apart
    "Who is Mr. Darcy's aunt?",                           # a title the book writes differently
    "What does Andres Muller sell?",                      # both words accented in the book
    "Who took Victor aboard in the Arctic?",              # a reader's own word beside a name the book writes
])
def test_a_name_the_book_writes_is_never_missing(question):
    book = ("Zoë lived in Lyon with Andrés Müller, who sold clocks. Victor was born in Geneva; the "
            "Frankensteins were an old family. Julia, my sister, died. Mrs. Stoner was our mother. "
            "Darcy's aunt, Lady Catherine, came.")
    assert missing_names(passages(book), question) == []


@pytest.mark.parametrize("question, missing", [
    ("Where does Mr. Rochester live?", "Mr. Rochester"), ("Who is Zorba's friend?", "Zorba"),
])
def test_a_name_the_book_never_writes_is_missing(question, missing):
    assert missing_names(passages("Jane Eyre lived at Thornfield with Adèle."), question) == [missing]


def test_name_words_leave_out_titles_and_possessives():
    assert name_words("Mr. Darcy's") == ["darcy"]
    assert name_words("Lady Catherine de Bourgh") == ["catherine", "bourgh"]


@pytest.mark.parametrize("question, expected", [
    ("Who does Lydia run away with?", "name"), ("Where was the goose bought?", "name"),
    ("Which estate does he own?", "name"), ("What is the name of her cat?", "name"),
    ("How many daughters are there?", "number"), ("How much is he paid a week?", "number"),
    ("What killed Julia Stoner?", "open"), ("Why did she leave?", "reason"), ("How did he escape?", "reason"),
])
def test_what_a_question_asks_for(question, expected):
    assert kind(question) == expected


def test_name_candidates_are_the_names_of_the_text_but_not_the_question_s():
    text = "Lydia ran away with Mr. Wickham. Elizabeth and Jane were told by Mr. Gardiner."
    known = {"Lydia", "Mr Wickham", "Elizabeth", "Jane", "Mr Gardiner"}  # the book's names (Passages.names)
    found = candidates(text, "Who does Lydia run away with?", "name", known)
    assert found == ["Mr. Wickham", "Elizabeth", "Jane", "Mr. Gardiner"]


def test_number_candidates_are_words_and_digits():
    found = candidates("They had five daughters, 24 miles off, and twenty-four horses.", "How many?", "number")
    assert found == ["five", "24", "twenty-four"]


def test_the_right_sentence_with_the_wrong_person_is_refused():
    evidence = ["Jane was the eldest of the five Bennet daughters. Lydia, the youngest, laughed at everyone."]
    question = "What is the name of the Bennets' eldest daughter?"
    assert sentences_saying("Jane", question, evidence) == ["Jane was the eldest of the five Bennet daughters."]
    assert sentences_saying("Lydia", question, evidence) == []


def test_a_sentence_with_the_subject_but_not_what_is_asked_says_nothing():
    evidence = ["Charlotte danced with Mr. Darcy at the ball. Charlotte married Mr. Collins in the spring."]
    question = "Whom does Charlotte Lucas marry?"
    assert sentences_saying("Mr. Darcy", question, evidence) == []
    assert sentences_saying("Mr. Collins", question, evidence) == ["Charlotte married Mr. Collins in the spring."]


def test_an_answer_said_about_another_subject_is_refused():
    evidence = ["Mr. Collins was to marry Charlotte. Elizabeth walked to Meryton with Wickham."]
    assert sentences_saying("Wickham", "Whom does Charlotte Lucas marry?", evidence) == []
    assert sentences_saying("Collins", "Whom does Charlotte Lucas marry?", evidence)


def scripted(right: str):
    """A stand-in model: the question is likeliest after the passage that holds `right`; `right` is likeliest
    after the evidence, every answer equally likely without it; its own answer is `right` as a sentence."""
    def loglik(context, continuations):
        return [(-1.0 if right in context else -5.0) if c.strip().endswith("?") else
                (-0.5 if right in c and right in context else -4.0) if "Question:" in context and "\n\n" in context
                else -3.0 for c in continuations]
    return loglik, (lambda instruction: (f"I think it is {right}.", False)), (lambda instruction: instruction)


BOOK = ("Chapter 1\n\nThe Red Lion stood on the square. Nobody spoke of it.\n\n"
        + "The weather was fine and the roads were dry all that month. " * 20 + "\n\n"
        "Who stole the tarts?\n\nThe Knave of Hearts stole the tarts, the King said, and everyone agreed.\n\n"
        + "The garden was full of roses and the gardeners were painting them. " * 20)


def test_a_chosen_answer_comes_with_the_sentence_that_says_it():
    loglik, generate, turn = scripted("Knave")
    found = answer(passages(BOOK), "Who stole the tarts?", loglik, generate, turn, Rules(spans=True, gather=False))
    assert found.how == "chosen" and "Knave" in found.text
    assert found.sentence.startswith("The Knave of Hearts stole the tarts")


def test_the_model_s_answer_stands_when_a_sentence_says_it_and_is_quoted_when_none_does():
    book = passages(BOOK)
    said = lambda instruction: ("The Knave of Hearts stole the tarts.", False)  # noqa: E731
    found = answer(book, "Who stole the tarts?", scripted("Knave")[0], said, lambda instruction: instruction,
                   Rules(gather=False))
    assert (found.how, found.text) == ("own", "The Knave of Hearts stole the tarts.")
    assert found.sentence.startswith("The Knave of Hearts stole the tarts")
    invented = lambda instruction: ("The Mad Hatter stole the tarts.", False)  # noqa: E731
    found = answer(book, "Who stole the tarts?", scripted("Knave")[0], invented, lambda instruction: instruction,
                   Rules(gather=False))
    assert found.how == "quoted" and found.text.startswith("The document says: \u201cThe Knave of Hearts")


def test_unsure_quotes_a_sentence_that_says_more_than_the_question():
    evidence = ["Who stole the tarts?\n\nThe Knave of Hearts stole the tarts, the King said."]
    found = quote([Passage(0, 1, evidence[0])], evidence, "Who stole the tarts?", lambda c, xs: [0.0 for _ in xs])
    assert found.how == "quoted" and found.sentence.startswith("The Knave")


def test_unsure_of_a_why_quotes_the_sentence_that_matches_with_the_reason_after_it():
    evidence = ["Orla Quennell had to leave Dunmore in the spring. The harvest had failed for the third time. "
                "Dogs barked all night."]
    question = "Why did Orla Quennell leave Dunmore?"
    any_score = lambda context, xs: [0.0 for _ in xs]  # noqa: E731
    found = quote([Passage(0, 1, evidence[0])], evidence, question, any_score)
    assert found.sentence == ("Orla Quennell had to leave Dunmore in the spring. "
                              "The harvest had failed for the third time.")
    said = sentences_saying("She did because the harvest had failed.", question, evidence)
    assert said == [found.sentence]


def _echo(context: str, continuations: list[str]) -> list[float]:
    """A stand-in model: a continuation is as likely as the share of its words the context holds."""
    seen = set(context.lower().replace(".", " ").split())
    return [sum(w in seen for w in c.lower().replace(".", " ").split()) / len(c.split()) for c in continuations]


def test_unsure_quotes_the_sentence_the_models_own_answer_points_at():
    """The model misreads the right sentence ("a leg of oak" for a leg of whalebone): what it wrote is not said,
    but the sentence that makes its answer likely is what to quote, over one that only makes the question
    likely."""
    evidence = ["The captain stood on the deck of the ship. His false leg was made of polished whalebone from a "
                "sperm whale's jaw. What is the captain made of, the crew asked, and the captain's leg shook."]
    question = "What is the captain's false leg made of?"
    read = [Passage(0, 1, evidence[0])]
    unpointed = quote(read, evidence, question, _echo)
    assert unpointed.sentence.startswith("What is the captain made of")
    pointed = quote(read, evidence, question, _echo, own="A leg of polished oak from a whale.", point=100)
    assert pointed.sentence.startswith("His false leg was made of polished whalebone")


def test_with_the_default_weight_the_models_answer_decides_between_sentences_the_question_ties():
    evidence = ["The captain's false leg was made of the same stuff as his mast. "
                "The captain's false leg was made of polished whalebone."]
    question = "What is the captain's false leg made of?"
    read = [Passage(0, 1, evidence[0])]
    assert quote(read, evidence, question, _echo, own="Polished whalebone.", point=0).sentence.endswith("his mast.")
    default = Rules().point
    assert quote(read, evidence, question, _echo, own="Polished whalebone.", point=default).sentence.endswith(
        "polished whalebone.")


def test_the_pointed_quote_is_a_rule_of_the_path():
    book = passages("The captain stood on the deck of the ship. His false leg was made of polished whalebone from "
                    "a sperm whale's jaw. What is the captain made of, the crew asked, and the captain's leg shook.",
                    60)
    wrong = lambda instruction: ("A leg of polished oak from a whale.", False)  # noqa: E731
    question = "What is the captain's false leg made of?"
    on, off = (answer(book, question, _echo, wrong, lambda instruction: instruction,
                      Rules(gather=False, point=point, after=False)) for point in (100, 0))
    assert on.how == off.how == "quoted"
    assert on.sentence.startswith("His false leg") and off.sentence.startswith("What is the captain made of")


@pytest.mark.parametrize("answer, said", [
    ("The mill ground its sacks of flour every year.", False),  # how many, and no number
    ("The mill ground 55682 sacks.", True),
    ("It ground fifty-five thousand sacks.", False),  # a number the sentence does not hold
])
def test_an_answer_to_how_many_holds_a_number_the_sentence_says(answer, said):
    evidence = ["The old mill at Firnick ground 55682 sacks of flour every year until its last year."]
    assert bool(sentences_saying(answer, "How many sacks did the mill grind?", evidence)) is said


@pytest.mark.parametrize("answer, question, evidence, said", [
    # numbers, days and the words for writing are what an answer says, not stop words
    ("They have five daughters.", "How many daughters do the Bennets have?",
     ["Mr. Bennet had two daughters at home."], False),
    ("They have five daughters.", "How many daughters do the Bennets have?",
     ["Mr. Bennet had five daughters at home."], True),
    ("He arrived by coach on Sunday.", "When did Hale arrive at the Bennets?",
     ["Hale arrived by coach on a Monday."], False),
    ("The shipping mark was the letter O in black paint.", "What shipping mark was painted on the crate?",
     ["The crate was labelled with the shipping mark OD-4098 in black paint."], False),
])
def test_a_number_a_day_or_a_letter_in_an_answer_must_be_said(answer, question, evidence, said):
    assert bool(sentences_saying(answer, question, evidence)) is said


def _two_passages(first: str, second: str) -> Passages:
    book = passages(f"{first}\n\n{second}", 40)
    assert len(book.items) == 2
    return book


def _answered(book: Passages, question: str, model, **rules) -> Found:
    """The answer with a scripted model and the `_echo` scorer, on the path that reads passages."""
    return answer(book, question, _echo, model, lambda instruction: instruction,
                  Rules(gather=False, now=False, **rules))


def test_the_model_reads_each_passage_on_its_own_and_the_first_said_answer_stands():
    """Two passages: the model reading both at once answers from its prior ("Oxford", which neither says); reading
    the one that holds the answer alone, it answers right, and a sentence of that passage says it."""
    book = _two_passages("Orla loved to study. Orla would study in the library every night, and the library was "
                         "cold, and she would study until the candles burned out and the porter came to close the "
                         "doors.", "At seventeen Orla was sent away to study at Ingolstadt, the old university town "
                         "on the river, where she lodged with a widow near the gates and wrote home every week.")

    def model(instruction):
        alone = "Ingolstadt" in instruction and "library" not in instruction
        return ("Orla studied at Ingolstadt." if alone else "Orla studied at Oxford.", False)

    question = "Where did Orla study?"
    each = _answered(book, question, model)
    assert (each.how, each.text) == ("own", "Orla studied at Ingolstadt.")
    assert each.sentence.startswith("At seventeen Orla was sent away to study at Ingolstadt")
    together = _answered(book, question, model, each=False)
    assert together.how == "quoted"


def test_of_two_said_answers_the_best_passage_s_stands():
    """Both readings are said by their own passage: the best passage's (BM25 first: it writes the question's words
    most) is read first and its answer stands; the other passage is never read."""
    book = _two_passages("Orla went to study at Ingolstadt. Orla would study there for years, and study hard, and "
                         "study late; study was all Orla knew, they said, and study she did, through the long "
                         "winters and the short wet summers of that town, with her books piled high on the table.",
                         "Once, long before, Orla had gone to study at Dunmore for a single summer with her aunt, "
                         "who kept a shop near the harbour and sold rope and tar and lamp oil to the fishermen who "
                         "came in off the boats at dusk, tired and cold and wanting their supper.")
    seen = []

    def model(instruction):
        seen.append(instruction)
        return ("Orla studied at Dunmore." if "Dunmore" in instruction else "Orla studied at Ingolstadt.", False)

    found = _answered(book, "Where did Orla study?", model)
    assert (found.how, found.text) == ("own", "Orla studied at Ingolstadt.")
    assert len(seen) == 1 and "Dunmore" not in seen[0]


def test_unsure_the_quote_is_pointed_at_by_the_first_answer_that_writes_a_word_of_what_it_read():
    """Neither reading is said by a sentence; the first answer writes only what its passage lacks ("Oxford"), the
    second a word of its own passage ("whalebone"): that one points at the quote."""
    book = _two_passages("The captain's leg was a marvel, the crew said, and the captain's leg was the talk of "
                         "every port, and the captain's leg was made of something nobody could name at first.",
                         "Then the carpenter told me: the captain's leg was made of polished whalebone, cut from "
                         "the jaw of a sperm whale. What the captain's leg was made of, said the mate, was his own "
                         "business.")

    def model(instruction):
        return ("A leg of polished whalebone oak." if "carpenter" in instruction and "marvel" not in instruction
                else "It was made at Oxford.", False)

    question = "What was the captain's leg made of?"
    found = _answered(book, question, model, point=100)
    assert found.how == "quoted" and found.sentence.startswith("Then the carpenter told me")


def _village(marriage: str, times: int) -> str:
    """A toy novel: Mr. Hale in every other paragraph; Mr. Thorne and Miss Pell in one each; the marriage written
    `times` times."""
    filler = ("Mr. Hale walked to the village and back again, and spoke of the weather, the roads, the price of "
              "corn and the new vicar at great length, as he did every day. ")
    parts = []
    for i in range(40):
        parts.append(filler * 3 if i % 2 else "The rain kept everybody indoors that week, and the river rose. " * 6)
        if i % 9 == 4 and times:
            parts.append(marriage)
            times -= 1
    parts[10] += " Miss Pell married nobody, and said so to Mr. Hale."
    parts[20] += " Mr. Thorne came to dinner once and left early."
    return "\n\n".join(parts)


def _never(*_):
    raise AssertionError("the model was asked")


def test_a_name_is_gathered_from_everywhere_the_book_tells_it():
    book = passages(_village("Eleanor Vane married Mr. Thorne in the spring, and Mr. Thorne was glad.", 4), 40)
    found = answer(book, "Whom does Eleanor Vane marry?", _never, _never, _never, Rules(gather_words=40))
    assert (found.how, found.short) == ("gathered", "Mr. Thorne")
    assert "married Mr. Thorne" in found.sentence and found.text.startswith("Mr. Thorne. The document says:")
    assert [g.name for g in found.gathered][:1] == ["Mr. Thorne"]
    assert all(g.name != "Eleanor Vane" for g in found.gathered)  # the question's own name is never its answer
    assert found.gathered[0].share > found.gathered[-1].share


def test_a_name_in_every_passage_says_nothing_of_the_question():
    """Mr. Hale is in half the passages, beside the marriage too; Mr. Thorne only where it is told."""
    book = passages(_village("Eleanor Vane married Mr. Thorne, said Mr. Hale.", 4), 40)
    gathered = gather(book, "Whom does Eleanor Vane marry?", 100)
    assert gathered[0].name == "Mr. Thorne"
    assert "Mr. Hale" in [g.name for g in gathered] and gathered[0].score > 2 * max(
        g.score for g in gathered if g.name == "Mr. Hale")


def test_of_two_names_in_the_sentence_the_one_nearer_the_question_s_words_is_gathered():
    book = passages(_village("Gockven Gurgennick's cousin, a tailor called Nockpas Kunan, made the wedding coat.", 1),
                    40)
    assert [g.name for g in gather(book, "Who made the coat for the wedding?", 100)][:2] == \
        ["Nockpas Kunan", "Gockven Gurgennick"]


@pytest.mark.parametrize("question, outright", [
    ("Who made the coat?", True), ("Whom does Eleanor marry?", True), ("What is the name of Alice's cat?", True),
    ("Where was the key hidden?", False), ("Which number was stamped on the key?", False),
    ("What fell all week?", False), ("How many sacks were there?", False),
])
def test_only_a_question_that_asks_for_a_name_outright_is_gathered(question, outright):
    assert asks_for_a_name(question) is outright


def test_without_gathering_or_a_name_to_gather_the_passages_are_read():
    book = passages(_village("Eleanor Vane married Mr. Thorne in the spring.", 4), 40)
    loglik, generate, turn = scripted("Thorne")
    found = answer(book, "Whom does Eleanor Vane marry?", loglik, generate, turn, Rules(gather=False))
    assert found.how != "gathered"
    found = answer(book, "What fell all week?", loglik, generate, turn, Rules(gather_words=40))  # asks no name
    assert found.how != "gathered"
    assert gather(book, "Xylophones?", 100) == []


def test_a_missing_name_is_not_found_without_the_model():
    def never(*_):
        raise AssertionError("the model was asked")
    found = answer(passages(BOOK), "Where does Humpty Dumpty sit?", never, never, never)
    assert found.text == f"{NOT_FOUND} (it never mentions Humpty Dumpty.)"


def test_a_question_no_passage_matches_is_not_found():
    loglik, generate, turn = scripted("Knave")
    found = answer(passages(BOOK), "Xylophones?", loglik, generate, turn)
    assert found.text.startswith(NOT_FOUND) and found.how == "not found"


@pytest.mark.parametrize("text", ["", "   \n\n  ", "\ufeff", "the of and a to in", "!!! ??? ..."])
def test_a_text_without_words_gives_no_passages_to_match(text):
    loglik, generate, turn = scripted("x")
    assert answer(Passages(text, 60), "What is it?", loglik, generate, turn).text.startswith(NOT_FOUND)


def test_passages_are_whole_paragraphs_of_about_the_size():
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(10))
    spans = cut_passages(text, 60)
    assert [text[a:b].count("Paragraph") for a, b in spans] == [2] * 5


def test_a_long_paragraph_is_cut_at_sentence_ends():
    text = " ".join(f"Sentence {i} has six words here." for i in range(40))
    pieces = [text[a:b] for a, b in cut_passages(text, 60)]
    assert len(pieces) >= 3 and all(p.rstrip().endswith(".") for p in pieces)


def test_rules_parse_and_refuse():
    assert Rules.parse("rerank=off, pool=20") == Rules(rerank=False, pool=20)
    from famcli.common.errors import UserError
    for bad in ("rerank=maybe", "pool=0", "nonsense=1", "pool"):
        with pytest.raises(UserError):
            Rules.parse(bad)


def test_a_hard_wrapped_paragraph_is_read_as_prose_but_a_log_keeps_its_lines():
    from famcli.documents.boilerplate import unwrapped

    wrapped = ("Sherlock Holmes sat moodily at one side of the\nfireplace cuddling his knees, while I was at\n"
               "the other, with my pipe.")
    assert unwrapped(wrapped) == "Sherlock Holmes sat moodily at one side of the fireplace cuddling his knees, " \
        "while I was at the other, with my pipe."
    log = "12:00:01 INFO worker 7 started\n12:00:02 ERROR disk full on /var/lib/postgresql/data\n12:00:03 OK"
    assert unwrapped(log) == log
    two = "A line of a paragraph that goes on\nand ends here.\n\nChapter 2\nThe next one."
    assert unwrapped(two) == "A line of a paragraph that goes on and ends here.\n\nChapter 2\n\nThe next one."
    even = "\n".join(f"12:00:{i:02} INFO worker {i % 9} processed batch ok" for i in range(6))
    assert unwrapped(even) == even


@pytest.mark.parametrize("content", [b"  \n\n \t\n", b"\xef\xbb\xbf", b"the of and a to in\n", b"!!! ??? ...\n"],
                         ids=["blanks", "bom", "stop-words", "punctuation"])
def test_a_file_without_words_is_not_found_through_the_installed_command(tiny, tmp_path, content):
    """bm25s cannot index an empty vocabulary: such files once ended in exit 70 (issue 51). (An empty file is
    an error of its own: tests/test_bad_inputs.py.)"""
    from conftest import famcli_process

    path = tmp_path / "doc.txt"
    path.write_bytes(content)
    done = famcli_process(["ask", path, "What is it?", "--model", tiny, "-q"], capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, f"{NOT_FOUND} (no passage matches the question's words.)")
    assert "Traceback" not in done.stderr


def test_the_scorer_s_likelihoods_are_the_model_s_own(tiny):
    """Scorer.loglik (one context read once, each continuation read after it and taken back) equals the mean
    log-probability of the continuation's tokens from one plain forward pass over context and continuation
    together, also where a continuation crosses the end of a block."""
    from famcli.answer.score import Scorer
    from famcli.jobs.session import Session
    from famcli.models.loading import load_model
    from famcli.models.runtime import prepare

    loaded, config = prepare(load_model(tiny, dtype="fp32"), "auto", "none")
    session = Session(loaded, config)
    encode = session.lookup.scorer_encode
    scorer = Scorer(session.final_reader(), encode)
    continuations = [" bluebird.", " a red fox that ran", " x"]
    block = session.final_reader().config.block_size
    crossing = "ab " * ((block - 4) // len(encode("ab ")))  # its continuations cross the first block's end
    assert len(encode(crossing)) < block < len(encode(crossing + continuations[1]))
    for context in ("The secret password is", crossing):
        _agree_with_one_pass(loaded, encode, scorer, context, continuations)


def _agree_with_one_pass(loaded, encode, scorer, context, continuations):
    import torch

    got = scorer.loglik(context, continuations)
    for text, value in zip(continuations, got):
        ids, target = encode(context), encode(text)
        with torch.no_grad():
            logits = loaded.model(torch.tensor([ids + target])).logits[0].float()
        logp = torch.log_softmax(logits[len(ids) - 1:-1], dim=-1)
        expected = logp[torch.arange(len(target)), torch.tensor(target)].mean().item()
        assert value == pytest.approx(expected, abs=1e-4)
    assert got[0] != got[1]


def test_the_rules_travel_to_a_batch_worker_as_json():
    import json
    from dataclasses import asdict

    from famcli.recall.search import RecallOptions

    sent = RecallOptions(rules=Rules(read=3, check=False))
    assert RecallOptions(**json.loads(json.dumps(asdict(sent)))) == sent


def test_a_session_s_next_document_never_answers_from_the_last_one_s_passages(tiny, tmp_path):
    """Two documents of the same length read one after the other by one session (a batch worker): the
    passages are the second's, even where its index takes the first one's memory address."""
    from famcli.jobs.asking import ask_document
    from famcli.jobs.session import Session
    from famcli.models.loading import load_model
    from famcli.models.runtime import prepare

    loaded, config = prepare(load_model(tiny, dtype="fp32"), "auto", "none")
    session = Session(loaded, config)
    for i in range(4):
        path = tmp_path / f"report{i}.txt"
        path.write_text(f"Report {i}.\nThe secret code of office {i} is {100 + i}.\nEnd.\n")
        result = ask_document(session, str(path), "What is the secret code?", max_tokens=4)
        assert all(f"office {i} " in p["snippet"] for p in result["passages"]) and result["passages"]


@pytest.mark.parametrize("said, evidence, holds", [
    ("The total was 123,456.", "The total was 123456 in all.", True),   # the same number, grouped or not
    ("The total was 123456.", "The total was 123,456 in all.", True),
    ("The total was 123,456.", "The totals were 123 and then 456.", False),  # two numbers are not one
    ("The total was 4,520.", "The total was 4,250 in all.", False),
    ("It weighed 3.5 tons.", "It weighed 3.5 tons.", True),
    ("It weighed 3.5 tons.", "It weighed 3 tons and 5 pounds.", False),
])
def test_an_answer_brings_no_number_its_evidence_does_not_write(said, evidence, holds):
    """Both checks (the passages path's sentence that says the answer, the older paths' `supported`) read a
    number as one word without its thousands commas."""
    from famcli.jobs.answer import supported

    question = "How much did it weigh?" if "weigh" in said else "What was the total?"
    assert bool(sentences_saying(said, question, [evidence])) is holds
    assert supported(said, [evidence], question) is holds


def test_a_code_or_an_ordinal_the_evidence_lacks_is_not_supported():
    """Words that mix digits and letters ("7th", "X9Q7") are checked as names are: the evidence must write them."""
    from famcli.jobs.answer import supported

    assert not supported("They met on the 7th of May.", ["They met on the 5th of May at the station."],
                         "When did they meet?")
    assert supported("They met on the 5th of May.", ["They met on the 5th of May at the station."],
                     "When did they meet?")
    assert not supported("The code is X9Q7.", ["The code on the crate is X9Q4."], "What is the code?")


STORY = ("Mary moved to the kitchen. It rained all day. Sandra went to the garden. Mary picked up the milk.\n\n"
         + "The weather was fine and the roads were dry all that month. " * 30 + "\n\n"
         "Mary travelled to the office. Sandra got the apple. Sandra journeyed to the hallway. John went to the "
         "bedroom. John took the football there.\n\n" + "The garden was full of roses. " * 30 + "\n\n"
         "John dropped the football. John went back to the bathroom. Mary said nothing at all.")


@pytest.mark.parametrize("question, place, said", [
    ("Where is Mary?", "the office", ["Mary travelled to the office."]),  # not the kitchen: she went on
    ("Where is Mary now?", "the office", ["Mary travelled to the office."]),
    ("Where is Sandra?", "the hallway", ["Sandra journeyed to the hallway."]),
    ("Where is the milk?", "the office", ["Mary picked up the milk.", "Mary travelled to the office."]),  # 2 hops
    ("Where is the apple?", "the hallway", ["Sandra got the apple.", "Sandra journeyed to the hallway."]),
    ("Where is the football?", "the bedroom", ["John went to the bedroom.", "John dropped the football."]),
])
def test_where_something_is_now_is_the_latest_statement_that_places_it(question, place, said):
    found = answer(passages(STORY), question, _never, _never, _never, Rules(now_places=False))
    assert (found.how, found.short, found.said) == ("latest", place, said)
    assert found.text.startswith(place.capitalize() + ". The document says: \u201c")


@pytest.mark.parametrize("question, place", [
    ("Where was Mary before the office?", "the kitchen"),
    ("Where was the milk before the office?", "the kitchen"),  # three facts: in the kitchen, taken, carried on
    ("Where was Sandra before the hallway?", "the garden"),
])
def test_where_something_was_before_a_place_is_the_stop_before_it(question, place):
    found = answer(passages(STORY), question, _never, _never, _never, Rules(now_places=False))
    assert (found.how, found.short) == ("latest", place)


def test_a_thing_let_go_of_stays_where_it_was_dropped():
    book = passages(STORY)
    assert where_now(book, "the football").place == "the bedroom"
    assert was_before(book, "the football", "the bathroom") is None  # John went on without it


def test_a_subject_mentioned_once_and_one_never_placed():
    book = passages("Kitty went to the library. " + "Nothing happened for a while. " * 20 + "Lydia laughed.")
    assert answer(book, "Where is Kitty?", _never, _never, _never, Rules(now_places=False)).short == "the library"
    assert where_now(book, "Lydia") is None  # no statement places her: the question goes on to the passages
    assert where_now(book, "the teapot") is None  # nothing about it


@pytest.mark.parametrize("question, subject", [
    ("Where is Mary?", "Mary"), ("Where is the milk now?", "the milk"), ("where are the apples?", "the apples"),
    ("Where was Mary?", None), ("Where does Mary live?", None), ("Who is Mary?", None),
])
def test_which_questions_ask_where_something_is_now(question, subject):
    assert where_now_subject(question) == subject


def test_a_person_is_not_carried_by_whom_a_sentence_also_names():
    book = passages("Mary went to the garden. " + "It rained. " * 30 + "Mary spoke to Kitty at length.")
    assert where_now(book, "Mary").place == "the garden"


def test_what_the_model_takes_for_no_place_places_nobody():
    """A stand-in model that takes rooms for places: "at his easy manner" is passed over for the room before."""
    def loglik(context, continuations):
        room = any(r in c for c in continuations for r in ("kitchen", "garden"))
        return [(-1.0 if room else -6.0) if context.startswith("Where is") else -3.0 for _ in continuations]
    book = passages("Mary went to the garden. " + "It rained. " * 30 + "Mary smiled at his easy manner.")
    assert where_now(book, "Mary").place == "his easy manner"  # a preposition alone places her anywhere
    found = answer(book, "Where is Mary?", loglik, _never, _never)
    assert (found.how, found.short) == ("latest", "the garden")


def test_where_a_name_written_with_accents_is_as_a_reader_types_it():
    book = passages("Zoë went to the garden. " + "It rained. " * 30 + "Zoë moved into the old mill.")
    found = answer(book, "Where is Zoe now?", _never, _never, _never, Rules(now_places=False))
    assert (found.how, found.short) == ("latest", "the old mill")


def test_a_thing_is_handed_only_to_a_name_in_its_own_clause():
    story = ("Mary went to the kitchen. Mary grabbed the milk. " + "It rained. " * 30 + "Mary moved to the garden. "
             "Most famous in our annals is the milk-white steed. "           # "milk-white" is no statement about milk
             "Inserting the pole, Tashtego guides the bucket, full of new milk. "  # Tashtego is in another clause
             "Most of the milk was gone.")                                  # "Most" begins a sentence: nobody
    found = answer(passages(story), "Where is the milk?", _never, _never, _never, Rules(now_places=False))
    assert (found.how, found.short) == ("latest", "the garden")
    assert found.said == ["Mary grabbed the milk.", "Mary moved to the garden."]


def test_the_sentence_shown_with_a_gathered_name_names_whom_the_question_is_about():
    story = _village("Eleanor Vane was wed to Mr. Thorne in the spring.", 3).replace(
        "Mr. Thorne came to dinner once and left early.",
        "Everyone asked who would marry next. Mr. Thorne only smiled. Marry, marry, the whole village said.")
    found = answer(passages(story, 40), "Whom does Eleanor Vane marry?", _never, _never, _never,
                   Rules(gather_words=40))
    assert found.short == "Mr. Thorne" and "Eleanor Vane" in found.sentence


_GUTENBERG = ("The Project Gutenberg EBook of The Orchard House, by Ada Pellworth\n\n"
              "Title: The Orchard House\n\nAuthor: Ada Pellworth\n\n*** START OF THIS PROJECT GUTENBERG EBOOK ***\n\n"
              "THE ORCHARD HOUSE\n\nBy Ada Pellworth\n\nCHAPTER I.\n\n" +
              "Tom Hale wrote the letter to his sister in the spring, and Mr. Brand carried it to the town. " * 30)


def _unused(*args, **kwargs):
    raise AssertionError("the model is not asked: the front matter answers")


@pytest.mark.parametrize("question", ["Who wrote this book?", "Who is the author?", "Who wrote The Orchard House?",
                                      "What is the name of the author of this novel?", "Who's the writer of it?",
                                      "Who are the authors of this book?"])
def test_who_wrote_the_book_is_answered_from_its_front_matter(question):
    found = answer(passages(_GUTENBERG), question, _unused, _unused, _unused)
    assert (found.how, found.short) == ("front", "Ada Pellworth")
    assert found.text == "Ada Pellworth. The document says: \u201cAuthor: Ada Pellworth\u201d"


@pytest.mark.parametrize("question", ["Who wrote the letter?", "Who wrote to his sister?", "When was it written?",
                                      "Who carried the letter?", "Who was this book written for?",
                                      "Whom did the author write to?", "Who wrote in the book?", "Who is writing?",
                                      "Who is the writer in the story?"])
def test_a_question_about_what_the_story_tells_is_not_about_the_author(question):
    from famcli.answer.front import asks_for_the_author

    assert not asks_for_the_author(question, "", _GUTENBERG)


def test_the_author_from_a_title_page_and_none_without_one():
    from famcli.answer.front import front_matter

    assert front_matter("", "MOBY-DICK;\n\nor, THE WHALE.\n\nBy Herman Melville\n\n\nCONTENTS\n") == \
        ("Herman Melville", "By Herman Melville", False)
    assert front_matter("", "by the way\n\nBy Simone de Beauvoir\n\nOne") == \
        ("Simone de Beauvoir", "By Simone de Beauvoir", False)  # the first line that names someone
    for prose in ("It was written by hand, by the light of a candle.\n\nby the way, nobody came.",
                  "The carriage was stopped,\nby Mr. Brand on the road\n\nand so on", "Chapter\n\nBY NIGHT\n\nIt",
                  "Notice\n\nBy Order of the Court\n\nAll", "He came at last,\nby Mr. Brand.\n\nThen"):
        assert front_matter("", prose) is None, prose
    assert front_matter("Author: python-docx", "Author: Ada Pellworth\n") == \
        ("Ada Pellworth", "Author: Ada Pellworth", False)  # the writing program's name names nobody
    assert front_matter("Author: bell hooks", "") == ("bell hooks", "Author: bell hooks", True)
    book = passages("Tom Hale wrote the letter in the spring. " * 40)
    wrote = lambda instruction: ("Tom Hale.", False)  # noqa: E731
    found = answer(book, "Who wrote this book?", _unused, _unused, _unused)
    assert found.text == f"{NOT_FOUND} (it does not say who wrote it.)"  # not Tom Hale, who writes a letter in it
    off = answer(passages(_GUTENBERG), "Who wrote this book?", lambda c, xs: [0.0 for _ in xs], wrote, lambda i: i,
                 Rules(front=False, gather=False))
    assert off.how == "own" and off.short == "Tom Hale."  # the story's name, as before the rule


def test_the_files_metadata_names_its_author(tmp_path):
    """EPUB (dc:creator), DOCX (core properties), PDF (document information) and HTML (<meta name="author">) say who
    wrote them beside their text:
    the reader keeps it as the document's front matter, which the answer reads as it reads an "Author:" line."""
    from samples import described_pdf, docx_report, epub_book

    from famcli.documents.registry import open_document

    epub_book([("One", "Tom Hale wrote the letter.")], tmp_path / "book.epub", author="Ada Pellworth")
    docx_report([("p", "Tom Hale wrote the letter.")], tmp_path / "report.docx", author="Ada Pellworth")
    (tmp_path / "paper.pdf").write_bytes(described_pdf(["Tom Hale wrote the letter."], "Orchard", "Ada Pellworth"))
    (tmp_path / "page.html").write_text("<html><head><title>Orchard</title><meta name='Author' content='Ada Pellworth'>"
                                        "</head><body><p>Tom Hale wrote the letter.</p></body></html>")
    for name in ("book.epub", "report.docx", "paper.pdf", "page.html"):
        doc = open_document(str(tmp_path / name))
        text = "".join(doc.pieces)
        assert "Ada Pellworth" not in text and "Author: Ada Pellworth" in doc.front.splitlines(), name
        book = passages(text)
        book.front = doc.front
        found = answer(book, "Who wrote this?", _unused, _unused, _unused)
        assert (found.how, found.short) == ("front", "Ada Pellworth"), name
        assert "The file's metadata says: \u201cAuthor: Ada Pellworth\u201d" in found.text, name
    epub_book([("One", "Tom Hale wrote the letter.")], tmp_path / "anonymous.epub")
    docx_report([("p", "Tom Hale wrote the letter.")], tmp_path / "anonymous.docx")  # python-docx's own name
    for name in ("anonymous.epub", "anonymous.docx"):
        doc = open_document(str(tmp_path / name))
        book = passages("".join(doc.pieces))
        book.front = doc.front
        found = answer(book, "Who wrote this?", _unused, _unused, _unused)
        assert found.text == f"{NOT_FOUND} (it does not say who wrote it.)", name


def test_sources_of_an_answer_read_from_no_passage_say_so():
    from famcli.cli.read import with_sources

    assert with_sources("Jane Austen.", [], True) == \
        "Jane Austen.\n\nSources: none (no passage of the document was read for this answer)."
    assert with_sources("Jane Austen.", [], False) == "Jane Austen."
