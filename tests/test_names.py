"""famcli.text.names: proper names from capitalisation, the ones a passage is most about, and who acts in it."""

from collections import Counter

from famcli.text.names import names, people, salient

TEXT = """Then Alice went on. ‘I'm sure the Mock Turtle knows,’ said Alice to the Gryphon. The Queen of Hearts
was angry. Mr. Darcy bowed to Elizabeth at Pemberley, and Elizabeth smiled. Perhaps the Mock Turtle sang.
“You're late,” said Elizabeth. They walked to Pemberley. It was Monday."""


def test_names_are_capitalised_runs_not_sentence_starters():
    found = names(TEXT)
    assert {"Alice", "Mock Turtle", "Gryphon", "Queen of Hearts", "Mr Darcy", "Elizabeth", "Pemberley"} <= set(found)
    assert found["Mock Turtle"] == 2 and found["Elizabeth"] == 3 and found["Pemberley"] == 2
    for word in ("Then", "Perhaps", "I'm", "You're", "They", "It", "Monday", "The", "Mr"):
        assert word not in found, word


def test_a_word_seen_only_where_sentences_start_is_not_a_name():
    assert "Suddenly" not in names("Suddenly it rained. Suddenly it stopped. The rain fell on Rome.")
    assert names("Rome fell. They loved Rome.")["Rome"] == 2  # capitalised mid-sentence too: a name


def test_salient_ranks_by_use_and_skips_parts_of_kept_names():
    text = "He saw the Mock Turtle. " * 5 + "He saw Alice. " * 3 + "He saw Turtle. He saw Bill."
    assert salient(text, limit=3) == ["Mock Turtle", "Alice"]  # Bill once: below min_count; Turtle inside
    background = Counter({"Alice": 1000, "Mock Turtle": 5})
    assert salient("Alice Alice Alice and the Gryphon, the Gryphon", background=background)[0] == "Gryphon"


def test_people_are_those_who_speak_or_act():
    assert people(TEXT, ["Pemberley", "Elizabeth", "Alice", "Gryphon"]) == ["Elizabeth", "Alice"]


def test_a_narrator_is_someone_because_others_speak_to_him():
    """Watson tells his book as "I": he never "says" anything by name, but others talk to him; a place in a list
    or a cry of "Oh, London!" is nobody."""
    text = ("“Come, Watson, come!” he cried. “You see, Watson.” My dear Watson, I thought. We left Geneva, Paris "
            "and Rome. “Oh, London!” I sighed. I went to London.")
    assert people(text, ["Watson", "Geneva", "London", "Paris"]) == ["Watson"]
