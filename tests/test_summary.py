"""famcli.summary.summary: sections, their names, and the candidate each part of the summary keeps."""

from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from famcli.summary import notes as section_notes
from famcli.summary import summary
from famcli.summary.notes import TEXT_SECTION_MIN, Section, score, section_names, section_size
from famcli.summary.summary import Candidate, part_summary, part_weights, summary_parts

GROUNDED = {"Alice": 2.0, "Mock Turtle": 1.5, "Gryphon": 1.0}
WORDS = {"Alice", "Mock", "Turtle", "Gryphon", "Queen"}


class _WordTokens:  # a tokenizer of whole words: enough for the names a draft is nudged towards
    def encode(self, text, add_special_tokens=False):
        return [sum(map(ord, w)) for w in text.split()]


@dataclass
class _Loaded:
    tokenizer: _WordTokens
    context_window: int


@dataclass
class WordWriter:
    """famcli.summary.notes.Writer with a tokenizer of whole words and no model: what the rules that only count
    tokens need (no decoding: final_reader and stop_ids are never called here)."""

    window: int = 8192

    def __post_init__(self):
        self.loaded, self.tokens = _Loaded(_WordTokens(), self.window), SimpleNamespace(encode=str.split)

    def final_reader(self):
        raise AssertionError("no model here")

    def stop_ids(self) -> list[int]:
        raise AssertionError("no model here")


WORD_TOKENS = WordWriter()


def test_boosted_names_are_the_most_particular_first_tokens_once_each():
    weights = {"Alice": 0.1, "Mock Turtle": 1.0, "Mock Hare": 0.9, "Gryphon": 0.6}
    counts = Counter({"Alice": 30, "Mock Turtle": 4, "Mock Hare": 1, "Gryphon": 2})
    first = section_notes.boost_names(WORD_TOKENS, weights, counts, limit=3)
    assert first == [sum(map(ord, "Mock")), sum(map(ord, "Gryphon"))]  # Mock once; Alice past the limit


def test_section_size_fits_the_window_and_the_count():
    assert section_size(None) == 3000 and section_size(10_000, 16) == 1000 and section_size(40_000, 16) == 2500
    assert section_size(1_000_000, 16, window=2048) == 1024
    # a note that is the section's own sentence needs a paragraph, not a thousand tokens: a memo gets several
    assert section_size(400, 16, least=TEXT_SECTION_MIN) == TEXT_SECTION_MIN == 120
    assert section_size(40_000, 16, least=TEXT_SECTION_MIN) == 2500


def test_a_name_written_once_at_a_sentence_start_keeps_no_capital_after_then():
    from famcli.summary.told import name_words, told_in_order

    sections = [Section((0, 10), None, Counter({"Elizabeth": 5, "Thus Elizabeth": 1, "Justine": 2})),
                Section((10, 20), None, Counter({"Elizabeth": 3, "Justine": 1}))]
    names = name_words(sections)
    assert "Thus" not in names and {"Elizabeth", "Justine"} <= names
    told = told_in_order(["Elizabeth wept over the letter.", "Thus spoke my soul as I stood by the grave.",
                          "Justine was tried and found guilty."], names=names)
    assert "letter. Thus spoke my soul" in told and "In the end, Justine was tried" in told  # its own link


def test_parts_cover_the_notes_in_order():
    assert summary_parts(16, 200) == [(0, 4), (4, 8), (8, 12), (12, 16)]
    assert summary_parts(3, 400) == [(0, 1), (1, 2), (2, 3)] and summary_parts(5, 10) == [(0, 5)]


def test_score_rewards_the_parts_own_names_and_punishes_invention_lists_and_loops():
    told = "Alice meets the Mock Turtle, who tells her his story while the Gryphon listens."
    generic = "A young girl meets a strange creature who tells her a long story by the sea."
    invented = "Alice meets Captain Nemo and Lord Voldemort by the sea, and they sail away."
    listed = "Alice, Mock Turtle, Gryphon, Alice, Mock Turtle, Gryphon."
    looped = "Alice meets the Mock Turtle and the Gryphon, and Alice meets the Mock Turtle and the Gryphon again."
    s = {k: score(v, GROUNDED, WORDS) for k, v in dict(told=told, generic=generic, invented=invented, listed=listed,
                                                      looped=looped).items()}
    assert s["told"] > s["looped"] > s["generic"] and s["told"] > s["invented"] and s["told"] > s["listed"]
    assert score("", GROUNDED, WORDS) < s["generic"]


def test_section_names_put_people_first():
    text = "At Pemberley, Elizabeth smiled. Pemberley was grand; Pemberley, they said. ‘No,’ said Elizabeth."
    counts, hint, _ = section_names(text)
    assert counts["Pemberley"] == 3 and hint[0] == "Elizabeth" and "Pemberley" in hint


def test_a_part_keeps_its_best_candidate(monkeypatch):
    told = ["Alice cried by the pool of tears.", "The Gryphon and the Mock Turtle danced the Lobster Quadrille."]
    sections = [Section((0, 100), None, Counter({"Alice": 3, "Mock Turtle": 2}), ["Alice"], told[0], text=told[0]),
                Section((100, 200), None, Counter({"Gryphon": 2, "Mock Turtle": 1, "Lobster Quadrille": 1}), ["Gryphon"],
                        told[1], text=told[1])]
    texts = {"greedy": "A girl is sad and then some animals dance by the sea for a while.",
             "boosted": "Alice is sad and then some animals dance by the sea for a while.",
             "hinted": "Alice cries, and later the Gryphon and the Mock Turtle dance the Lobster Quadrille for her.",
             "sampled": "Somebody dances somewhere, and the story goes on and on without names."}
    seen = []

    def fake(session, wanted, max_tokens):
        seen.extend(instruction for _, instruction, _ in wanted)
        return [[Candidate(texts[how], how) for how, _ in rows] for _, _, rows in wanted]

    monkeypatch.setattr(summary, "_reductions", fake)
    (weights,) = part_weights([sections])
    chosen = part_summary(WORD_TOKENS, sections, weights, 50, summary.Sampling())
    assert chosen.how == "hinted" and "Lobster" in chosen.text
    assert any("Alice" in i and "Mock Turtle" in i for i in seen)  # the part's names are in the hinted prompt
    texts["hinted"] = texts["sampled"]
    chosen = part_summary(WORD_TOKENS, sections, weights, 50, summary.Sampling())
    assert chosen.how == "extract" and chosen.text == " ".join(told)


def test_sentences_end_where_a_sentence_does_not_at_abbreviations_or_initials():
    from famcli.summary.notes import cut_sentences

    text = "Mr. Darcy meets J. Smith at St. Paul's. Then he leaves! And more "
    assert cut_sentences(text, 1) == "Mr. Darcy meets J. Smith at St. Paul's."
    assert cut_sentences(text, 2) == "Mr. Darcy meets J. Smith at St. Paul's. Then he leaves!"
    assert cut_sentences(text, 3) is None and cut_sentences("“Go,” she said. Next ", 1) == "“Go,” she said."


def test_score_punishes_the_prompt_copied_back():
    plain = "Alice meets the Mock Turtle and the Gryphon by the sea, and they dance."
    echoed = "The passage of the text, in which Alice, Mock Turtle and Gryphon appear, is a tale."
    from famcli.summary.notes import NOTE_ECHO

    assert score(plain, GROUNDED, WORDS, NOTE_ECHO) > score(echoed, GROUNDED, WORDS, NOTE_ECHO)


def test_part_weights_favour_names_particular_to_a_part():
    def part(names, note):
        return [Section((0, 1), None, Counter(names), list(names)[:2], note)]

    first = part({"Alice": 9, "Dodo": 3}, "Alice runs a race with the Dodo.")
    second = part({"Alice": 9, "Hatter": 4}, "Alice has tea with the Hatter.")
    w1, w2 = part_weights([first, second])
    assert w1["Dodo"] > w1["Alice"] and w2["Hatter"] > w2["Alice"] and "Hatter" not in w1


def test_plain_text_sections_are_placed_by_their_chapter_headings():
    from famcli.summary.notes import headings, text_place

    text = ("ALICE\n\nCHAPTER I. Down the Rabbit-Hole\n\nAlice was tired. Part of the bank was warm.\n\n"
            "CHAPTER II. The Pool of Tears\n\nCuriouser.\n")
    assert headings(text) == ["CHAPTER I. Down the Rabbit-Hole", "CHAPTER II. The Pool of Tears"]
    assert headings("He read the letter 4 times.\n\nPart of the day\nwent by.\n\nI.\n\nI. Said so.\n") == []  # prose
    cetology = ("as follows.\n\nBOOK I. (_Folio_), CHAPTER I. (_Sperm Whale_).—This whale, among the\nEnglish of "
                "old vaguely known as the Trumpa whale,\nand the Physeter whale.\n\nNext.\n")
    assert headings("x.\n\nCHAPTER 56. Of the Less Erroneous Pictures of Whales, and the True\nPictures of Whaling "
                    "Scenes.\n\nIn connexion") == ["CHAPTER 56. Of the Less Erroneous Pictures of Whales, and the True "
                                                    "Pictures of Whaling Scenes."]
    assert headings(cetology) == []  # a paragraph that opens like a heading (Moby Dick) is not one
    assert headings("end.\n\nVII. THE ADVENTURE OF THE BLUE CARBUNCLE\n\nI had called") == [
        "VII. THE ADVENTURE OF THE BLUE CARBUNCLE"]
    place, carried = text_place(text, None)
    assert place == "CHAPTER I. Down the Rabbit-Hole - CHAPTER II. The Pool of Tears"
    assert text_place("she swam on and on.\n", carried) == ("CHAPTER II. The Pool of Tears",) * 2
    assert text_place("more of it.\n\nLetter 2\n\nDear sister.\n", "Letter 1") == ("Letter 1 - Letter 2", "Letter 2")
    assert text_place("no headings here.\n", None) == (None, None)


def test_a_finished_candidate_beats_a_richer_one_cut_off_mid_sentence(monkeypatch):
    sections = [Section((0, 100), None, Counter({"Alice": 3, "Mock Turtle": 2, "Gryphon": 2}), ["Alice"],
                        "Alice cried by the pool of tears.")]
    texts = {"greedy": "Alice cries by the pool.", "boosted": "Alice, the Gryphon and the Mock Turtle dance and then the",
             "hinted": "Somebody cries.", "sampled": "Somebody cries."}
    monkeypatch.setattr(summary, "_reductions", lambda s, wanted, m: [[Candidate(texts[h], h) for h, _ in rows]
                                                                       for _, _, rows in wanted])
    (weights,) = part_weights([sections])
    assert score(texts["boosted"], weights, WORDS) > score(texts["greedy"], weights, WORDS)
    chosen = part_summary(WORD_TOKENS, sections, weights, 50, summary.Sampling())
    # the richest candidate stops mid-sentence: the part's own note, finished, is chosen over it
    assert (chosen.how, chosen.text) == ("extract", "Alice cried by the pool of tears.")


# ----- nothing invented, nothing lost ------------------------------------------------------------------------

SECTION_TEXT = ("Elinor Dashwood walked to Barton Park with her sister Marianne. Colonel Brandon met them at the gate "
                "and spoke of the weather. The house stood quiet in the rain.")


def test_a_note_naming_someone_the_section_never_does_is_refused():
    from famcli.summary.notes import invented_names
    from famcli.summary.telling import central_sentence

    assert invented_names("Elinor Dashwood and Lord Curzon walked to the park.", SECTION_TEXT) == ["Lord Curzon"]
    assert invented_names("Elinor Dashwood met Colonel Brandon.", SECTION_TEXT) == []
    assert central_sentence(SECTION_TEXT).startswith("Elinor Dashwood walked to Barton Park")


def test_a_sections_own_sentence_is_the_one_richest_in_what_is_particular_to_it():
    """The centroid score: the section's repeated words, each weighed by how rare it is in the rest of the
    document. The sentence of the weather every part tells loses to the one of the people this part is about;
    without the document's rarities (every word weighs 1) the weather wins on its counts alone."""
    from famcli.summary.telling import Rarity, central_sentence

    every_part = "The rain fell on the house and the garden. " * 170  # ~1,500 words: one part of the document
    section = ("The rain fell on the house and the garden, and the rain fell on the house again. The rain fell and "
               "fell on the garden. Orla Venn rode to Castle Drum with Pike at dawn. Pike and Orla Venn found the "
               "gate of Castle Drum open. The rain fell and fell.")
    rarity = Rarity()
    for _ in range(6):
        rarity.add(every_part)
    rarity.add(section).close()
    assert rarity.parts == 7
    assert central_sentence(section, rarity).startswith("Orla Venn rode to Castle Drum")
    assert central_sentence(section).startswith("The rain fell on the house and the garden, and the rain")


def test_every_draft_inventing_a_name_falls_back_to_the_sections_own_sentence(tiny, monkeypatch):
    from famcli.jobs.session import Session
    from famcli.models.loading import load_model
    from famcli.models.runtime import prepare
    from famcli.recall.search import RecallOptions
    from famcli.summary.notes import Section, section_names

    loaded, config = prepare(load_model(tiny, dtype="fp32"), "auto", "none")
    session = Session(loaded, config, RecallOptions())
    monkeypatch.setattr(section_notes, "decode_sentences", lambda s, requests, n, m: [
        ["Lord Curzon and Madame Dadouille dined in state."] * len(samplings) for _, samplings in requests])
    counts, hint, _ = section_names(SECTION_TEXT)
    weights = section_notes.note_weights(counts, Counter())
    section = Section((0, 40), None, counts, hint, text=SECTION_TEXT, weights=weights)
    section_notes.write_notes(session, [section])
    assert "Curzon" not in section.note and section.source == "sentence" and section.note in SECTION_TEXT


def _book(tmp_path, chapters: int = 12):
    path = tmp_path / "book.txt"
    path.write_text("".join(f"CHAPTER {i + 1}.\n\n" + f"Captain Orme sailed past the isle of Tarrow in the spring of "
                            f"year {i}. " * 60 + "\n\n" for i in range(chapters)))
    return path


def test_notes_out_keeps_the_notes_and_a_second_run_takes_them(tiny, tmp_path, capsys, monkeypatch):
    import json

    from famcli.__main__ import main

    book, notes = _book(tmp_path), tmp_path / "notes.jsonl"
    args = ["summarize", str(book), "--model", tiny, "--notes-out", str(notes), "--json", "-q", "--length", "short"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    lines = notes.read_text().splitlines()
    assert json.loads(lines[0])["famcli_notes"] == 1 and len(lines) == 1 + len(first["sections"]) > 2
    monkeypatch.setattr(section_notes, "decode_sentences", lambda *a, **k: pytest.fail("a note was written again"))
    import famcli.jobs.summarize as jobs

    monkeypatch.setattr(jobs, "summarize_parts", lambda session, written, max_tokens, sampling:
                        summary.extract_parts(written, max_tokens))
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert [s["note"] for s in again["sections"]] == [s["note"] for s in first["sections"]]
    assert {s["from"] for s in again["sections"]} == {"earlier run"}
    other = tmp_path / "other.txt"
    other.write_text("A different book entirely. " * 400)
    assert main(["summarize", str(other), "--model", tiny, "--notes-out", str(notes), "-q"]) == 1
    assert "holds notes of book.txt" in capsys.readouterr().err


def test_sigterm_during_summarize_prints_the_summary_of_the_notes_so_far(tiny, tmp_path):
    import json
    import signal
    import subprocess

    from conftest import famcli_process

    book, notes = _book(tmp_path, 40), tmp_path / "notes.jsonl"
    proc = famcli_process(["summarize", book, "--model", tiny, "--json", "--notes-out", notes, "--sections", "40",
                           "--notes-by", "model"],  # the model's notes: slow enough to be stopped part way
                          popen=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = 0
    while (line := proc.stderr.readline()) and seen < 2:
        seen += line.startswith("[")  # a note, as it is written
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "stopped by SIGTERM" in err and "Traceback" not in err, err
    result = json.loads(out)
    assert result["partial"]["tokens_read"] < result["partial"]["tokens_total"] and result["summary"]
    assert len(result["sections"]) >= 2 and len(notes.read_text().splitlines()) >= 3
    assert result["notes"] == [s["note"] for s in result["sections"]]  # the notes so far, under their own name


def test_a_parts_notes_that_outgrow_the_window_keep_their_best_in_order():
    """A part of a long book read in many sections has more notes than the window holds (the tiny model's 2,048
    tokens overflowed); its best notes by score are kept, in document order."""
    small = WordWriter(window=330)
    notes = [f"Nothing much happens here in part {i} of the long and winding story at all." for i in range(8)]
    notes[2] = "Alice meets the Gryphon and the Mock Turtle by the sea."
    notes[6] = "The Mock Turtle sings of the Lobster Quadrille to Alice."
    weights = {"Alice": 1.0, "Gryphon": 1.0, "Mock Turtle": 1.0, "Lobster Quadrille": 1.0}
    words = {"Alice", "Gryphon", "Mock", "Turtle", "Lobster", "Quadrille"}
    kept = summary._fitting(small, notes, weights, words, 50)
    assert notes[2] in kept and notes[6] in kept and len(kept) < len(notes)
    assert kept == [n for n in notes if n in kept]  # document order
    assert summary._fitting(WORD_TOKENS, notes, weights, words, 50) == notes  # they fit: all of them


def test_a_name_made_of_two_the_section_has_is_still_invented():
    """"Jane Darcy" where the text has Jane and Darcy but nobody of that name; titles either way are one name;
    a name the document used before the section is not invented."""
    from famcli.summary.notes import invented_names

    text = "Jane walked with Mr. Darcy to the house. Darcy spoke of Pemberley, and Jane smiled."
    assert invented_names("Jane Darcy walked to Pemberley.", text) == ["Jane Darcy"]
    assert invented_names("She saw Jane and Mr Darcy walk to Pemberley.", text) == []
    assert invented_names("She saw Elizabeth Bennet.", text, frozenset({"Elizabeth Bennet"})) == []


def test_support_finds_the_words_near_the_names():
    from famcli.summary.support import support

    text = ("Holmes read the letter from the King of Bohemia. Watson lit the lamp. "
            "Irene Adler sang at the opera that night, and the King watched her.")
    told = support("Holmes reads the King's letter.", text)
    assert told.share == 1.0 and not told.invented
    made_up = support("Holmes marries his wife, Irene Adler, in a church.", text)
    assert made_up.share < 0.5 and {"marri", "wife", "church"} <= set(made_up.words) - set(made_up.found)
    assert support("The passage describes a scene of Watson.", text).words == []  # what any summary says: no claim
    assert support("At night Irene Heath sang.", text).invented == ["Irene Heath"]


def test_a_note_that_says_what_its_section_does_not_gives_way_to_the_sections_own_sentence():
    from famcli.summary.notes import choose_note, note_weights

    counts = Counter({"Elinor Dashwood": 1, "Barton Park": 1, "Marianne": 1, "Colonel Brandon": 1})
    section = Section((0, 40), None, counts, ["Elinor Dashwood"], text=SECTION_TEXT,
                      weights=note_weights(counts, Counter()))
    told = "Elinor Dashwood and Marianne walk to Barton Park, where Colonel Brandon meets them at the gate."
    made_up = "Elinor Dashwood is crowned queen of France after a duel with Colonel Brandon at midnight."
    assert choose_note(section, [made_up, told]) == (told, "model")
    note, source = choose_note(section, [made_up])
    assert source == "sentence" and note.startswith("Elinor Dashwood walked to Barton Park")
    cut = "Elinor Dashwood walked with her sister Marianne to Barton Park, and Colonel Brandon met them and spoke of"
    note, source = choose_note(section, [cut, cut + " the"])  # every draft stopped mid-sentence
    assert source == "sentence" and note.startswith("Elinor Dashwood walked to Barton Park")


def test_notes_lose_the_opener_that_only_says_they_are_about_a_passage():
    from famcli.summary.notes import plain_telling
    from famcli.summary.told import told_in_order

    assert plain_telling("The passage describes a scene where Holmes finds the German letter.") == \
        "Holmes finds the German letter."
    assert plain_telling("In this passage, what happens is that the people of Pemberley grow fond of her.") == \
        "The people of Pemberley grow fond of her."
    assert plain_telling("In one sentence, Alice runs to the Queen.") == "Alice runs to the Queen."
    assert plain_telling("The passage is about Margaret.") == "The passage is about Margaret."  # no clause follows
    assert plain_telling("In this passage, Bob.") == "In this passage, Bob."
    told = told_in_order(["Alice falls.", "The Dodo runs.", "Alice wakes."])
    assert told == "Alice falls. Then, the Dodo runs. In the end, Alice wakes."
    told = told_in_order(["The passage describes Alice's fall down the rabbit hole. The passage also shows a small door.",
                          "Then the passage focuses on the Caucus-race by the pool.", "The passage is about Margaret.",
                          "This passage describes a scene of the trial of the Knave."])
    assert told == ("It opens with Alice's fall down the rabbit hole. It also tells of a small door. "
                    "It then turns to the Caucus-race by the pool. Then, the passage is about Margaret. "
                    "It ends with the trial of the Knave.")
    assert told_in_order(["Alice falls.", "", "Alice wakes."], whole=False) == "Alice falls. Then, Alice wakes."


def test_a_notes_source_is_its_carrying_sentences_in_order():
    from famcli.summary.extract import carrying_sentences

    filler = ["The rain fell on the roofs of the town all day long." for _ in range(3)]
    text = " ".join(["Mira Kell opened the gate of Varn Hall and called for her brother Tobin."] + filler +
                    ["Tobin came out of Varn Hall and told Mira Kell that the ship had sunk."] + filler +
                    ["The cat slept by the fire through the whole of the long afternoon."])
    weights = {"Mira Kell": 1.0, "Varn Hall": 1.0, "Tobin": 1.0}
    kept = carrying_sentences(text, weights, 30)
    assert kept.startswith("Mira Kell opened") and "Tobin came out" in kept and "cat slept" not in kept
    assert kept.index("Mira Kell opened") < kept.index("Tobin came out") and len(kept.split()) <= 30
    assert carrying_sentences("Short text here.", weights, 30) == "Short text here."


def test_the_most_unusual_line_of_a_log_is_its_one_error():
    """What a digest of a log shows beside its note, and what a note on text without names falls back to: the
    line least like the others, whatever the log's format."""
    from famcli.summary.telling import lined, telling_line

    routine = [f"{i:05d} INFO worker-{i % 4} processed batch {i} in {i * 7 % 90} ms" for i in range(200)]
    for at, odd in ((37, "00037 ERROR storage: disk /dev/sdb1 is full, write failed"),
                    (150, "00150 WARN auth: 17 failed logins for user mbrandt from 10.2.3.4")):
        lines = routine[:at] + [odd] + routine[at:]
        assert lined("\n".join(lines)) and telling_line("\n".join(lines)) == odd
    prose = " ".join(["Elinor walked to the house and spoke with her sister about the rain."] * 30)
    assert not lined(prose)


def test_a_sections_own_sentence_is_narrated_whole_and_not_a_heading_verse_or_speech():
    """What a note falls back to: a told sentence, not a line of speech inside a quotation opened sentences
    before, not a verse, not a chapter title in capitals, not one line of a long sentence cut at its breaks,
    not one begun mid-way in lower case; a hard-wrapped sentence is whole."""
    from famcli.summary.telling import central_sentence

    weights = None  # every word weighs 1: the section's own counts choose
    speech = ("“Come in,” said Pike. “Sit by the fire. Orla Venn will be at Castle Drum by noon, and Pike will "
              "ride with her.”")
    prose = ("The wind came over the hills from the west all that day, and the rain with it, so that the\n"
             "roads were mud and the rivers ran high and brown under every bridge in the valley below.\n\n")
    verse = ("The old song ran:\n\n    When Orla Venn rode out at dawn\n    To Castle Drum beside the sea,\n"
             "    Old Pike was left to mind the lawn\n    And wait beneath the apple tree.\n\n" + prose)
    heading = "Of the Gate and the Keep; and How Orla Venn Rode to Castle Drum at Dawn.\n\n"
    told = "Orla Venn rode to Castle Drum at dawn, and she found the gate of the keep open."
    fragment = "and Orla Venn and Pike rode on to Castle Drum, and to the keep of Castle Drum, at dawn."
    chapter = "\n\n\nCHAPTER 7. Of Orla Venn and the Keep at Castle Drum.\n\n\n"
    for text in (f"{speech}\n\n{told}", f"{verse}{told}", f"{heading}{told}", f"{fragment} {told}", f"{chapter}{told}"):
        assert central_sentence(text, weights) == told, text
    wrapped = "Orla Venn rode to Castle Drum at dawn, and she found the gate of\nthe keep open and Pike asleep " \
              "by the fire of the keep, and she woke\nPike, and they rode out of Castle Drum together before the " \
              "sun was up\nover the hills of the west and the rain came down on the keep.\n"
    assert central_sentence(f"{told}\n\n{wrapped}", weights) == " ".join(wrapped.split())
    wide = "x " * 34
    cut = (f"{wide}Orla Venn rode to\nCastle Drum at dawn and found Pike at the gate of the keep and the\n" * 3 +
           "end.")
    assert central_sentence(cut, weights) is None  # one long "sentence" cut into its lines: none is whole
    ending = ("the fire. Where can I find rest but in the deep sea, far from every eye? Farewell.”\n\nHe sprang "
              "from the window as he said this, upon the raft which lay close to the ship. He was soon borne away.")
    assert central_sentence(ending, weights).startswith("He sprang from the window")  # no names: a told sentence


def test_the_summary_opens_with_who_and_where_from_the_sections():
    """The people are names that act in two or more sections; places are names written after "at", "to",
    "from"...; a title alone takes its article; a text with fewer than two people gets no such sentence."""
    from famcli.summary.cast import cast, cast_sentence

    def section(text):
        counts, hint, who = section_names(text)
        return Section((0, 1), None, counts, hint, text=text, people=who)

    texts = ["Orla Venn rode to Castle Drum. Orla Venn said nothing. The Queen said she was late, and the Queen "
             "smiled. Mr. Pike said no. Mr. Pike went to Castle Drum.",
             "At Castle Drum, Orla Venn laughed. Orla Venn sat down. The Queen said goodbye; the Queen rose. Mr. Pike "
             "walked home from Castle Drum, and Mr. Pike said so.",
             "Orla Venn looked at the sea. Orla Venn turned. The Queen sat. The Queen said it was cold near Castle "
             "Drum. Mr. Pike went to Dunmore."]
    people, places = cast([section(t) for t in texts])
    assert sorted(people) == ["Mr. Pike", "Orla Venn", "the Queen"] and places == ["Castle Drum"]
    assert cast_sentence(["Orla Venn", "the Queen", "Mr. Pike"], places) == \
        "It is mostly about Orla Venn, the Queen and Mr. Pike; its places include Castle Drum."
    assert cast_sentence(["Orla Venn"], places) == ""


def test_the_cast_is_ranked_by_mentions_with_one_person_s_forms_together():
    """"Darcy" counts for Mr. Darcy (the one acting name holding it); "Bennet" is in two and counts for neither;
    "Mr Holmes" counts for Sherlock Holmes because the text writes "Mr Sherlock Holmes", never "Mr Elizabeth Bennet";
    "Captain", mostly written before a name, is a title and nobody; the most named come first."""
    from collections import Counter

    from famcli.summary.cast import _title, merged_mentions

    acting = ["Mr. Darcy", "Mr. Bennet", "Mrs. Bennet", "Elizabeth"]
    used = Counter({"Mr. Darcy": 10, "Darcy": 30, "Bennet": 50, "Mr. Bennet": 5, "Mrs. Bennet": 8, "Elizabeth": 35})
    mentions = merged_mentions(acting, used)
    assert mentions == Counter({"Mr. Darcy": 40, "Elizabeth": 35, "Mrs. Bennet": 8, "Mr. Bennet": 5})
    acting = ["Sherlock Holmes", "Mr Holmes", "Elizabeth Bennet", "Mr Bennet"]
    used = Counter({"Sherlock Holmes": 80, "Mr Holmes": 70, "Mr Sherlock Holmes": 11, "Elizabeth Bennet": 9,
                    "Mr Bennet": 20})
    assert merged_mentions(acting, used) == Counter({"Sherlock Holmes": 150, "Mr Bennet": 20, "Elizabeth Bennet": 9})
    hostile = Counter({"Mr X": 3, "Lady X": 3, "Mr Lady X": 1, "Lady Mr X": 1})  # each the other's titled form
    assert merged_mentions(["Mr X", "Lady X"], hostile) == Counter({"Mr X": 3, "Lady X": 3})
    text = "Captain Peleg said so. Captain Bildad agreed. The Captain laughed. Captain Ahab came. The Queen said no."
    assert _title("Captain", text) and not _title("Queen", text) and not _title("Mr. Darcy", text)


def test_the_parts_are_told_as_one_text_with_the_ending():
    """"Then," before a part whose sentence tells its events, its first word lowered unless it is a name, a
    link word of its own dropped; the last section's note ends the summary when the last part does not say it."""
    from famcli.summary.told import ending_part, told_in_order

    names = frozenset({"Orla", "Venn", "Castle", "Drum"})
    told = told_in_order(["Orla Venn rides out.", "Moreover, taking her horse, she crosses the river at night.",
                          "Castle Drum burns in the night."], names=names)
    assert told == ("Orla Venn rides out. Then, taking her horse, she crosses the river at night. "
                    "In the end, Castle Drum burns in the night.")
    told = told_in_order(["The passage delves into the minutes of the harbour board.", "Dana Whitcombe reports."])
    assert told == "It opens with the minutes of the harbour board. Then, Dana Whitcombe reports."
    # a link word the sentence needs stays its own ("Then, came the guests" was the join)
    told = told_in_order(["Alice fell.", "Next came the guests, mostly Kings.", "Then the Queen shouted.",
                          "He then related the murder."], whole=False)
    assert told == ("Alice fell. Next came the guests, mostly Kings. Then, the Queen shouted. He then related the "
                    "murder.")
    told = told_in_order(["Alice fell.", "No wonder, then, that the Queen shouted."], whole=False)
    assert told == "Alice fell. No wonder, then, that the Queen shouted."  # not "Then, no wonder, then"
    parts = [{"tokens": [0, 50], "summary": "Orla Venn rides out."},
             {"tokens": [50, 100], "summary": "She crosses the river."}]
    last = Section((90, 100), None, note="Orla Venn comes home to Castle Drum. She sleeps.", source="sentence")
    assert ending_part(parts, last) == {"tokens": [90, 100], "summary": "Orla Venn comes home to Castle Drum.",
                                        "from": "sentence"}
    assert ending_part(parts[:1], last) is None  # one part: it is the whole summary
    assert ending_part(parts[:1] + [{"tokens": [90, 100], "summary": "x"}], last) is None  # the last part is it
    assert ending_part([parts[0], {"tokens": [50, 100], "summary": "Orla Venn comes home to Castle Drum."}],
                       last) is None


def test_a_short_document_s_note_is_its_most_telling_sentence_not_a_line():
    """A letter or an article is one part of CHUNK_WORDS words, where the rarity makes every word as common as
    any: its words then weigh alike, and the note is a whole sentence, not its most unusual wrapped line."""
    from famcli.summary.telling import Rarity, central_sentence

    text = ("Mara walked down to the old mill at dawn with her dog.\nThe great wheel of the mill turned slowly in "
            "the river\nwhile Mara watched it from the bank.\nShe went home at noon.\nBirds sang by the river "
            "all the morning long.\n")
    assert central_sentence(text, Rarity().add(text).close()) == \
        "The great wheel of the mill turned slowly in the river while Mara watched it from the bank."


def test_a_text_in_another_script_has_words_to_tell_its_sentence_by():
    """Cyrillic, Greek, accented Latin: their words count (they were no words to `[a-z]+`, and the note of a
    Russian text was a piece its section began with)."""
    from famcli.summary.telling import Rarity, central_sentence
    from famcli.text import stem_bag

    assert stem_bag("Алиса сидела в кафе café") == ["алиса", "сидела", "кафе", "café"]
    text = ("Алиса сидела на берегу реки рядом с сестрой. Белый Кролик с розовыми глазами пробежал мимо Алисы и "
            "сестры. Она заглянула в книгу сестры, но там не было картинок.")
    assert central_sentence(text, Rarity().add(text).close()) == \
        "Белый Кролик с розовыми глазами пробежал мимо Алисы и сестры."


def test_a_text_that_repeats_itself_is_not_summarized_twice_over():
    """A log, a transcript or a pasted page says the same sentence in many sections: each part tells what no part
    before it told, a part with nothing new tells nothing, and the ending is not the last part again."""
    from famcli.summary.summary import extract_parts
    from famcli.summary.told import ending_part, told_in_order

    said = ["The cat sat on the mat near the door.", "The dog barked at the mailman twice.",
            "The cat sat on the mat near the door.", "The dog barked at the mailman twice.",
            "The cat sat on the mat near the door.", "A storm broke over the town at night."]
    sections = [Section((100 * i, 100 * (i + 1)), None, Counter({"Tom": 1}), [], note, text=note)
                for i, note in enumerate(said)]
    parts = extract_parts(sections, 150)  # three parts of two sections each
    assert [p.text for p in parts] == ["The cat sat on the mat near the door. The dog barked at the mailman twice.",
                                       "", "A storm broke over the town at night."]
    assert told_in_order(["Rain fell. Rain fell.", "Then, rain fell.", "The sun rose."], whole=False) == \
        "Rain fell. Then, the sun rose."
    assert told_in_order(["🙂 The cat sat on the mat.", "cat sat on the mat."]) == "🙂 The cat sat on the mat."  # a piece
    assert told_in_order(["Alice grows taller than the house.", "Alice grows."], whole=False) == \
        "Alice grows taller than the house. Then, Alice grows."  # a whole sentence of its own
    last = Section((500, 600), None, note="A storm broke over the town at night.", source="sentence")
    part = [{"tokens": [0, 200], "summary": "A storm broke over the town at night."},
            {"tokens": [200, 400], "summary": "Tom slept."}]
    assert ending_part(part, last) is None  # an earlier part told it


def test_the_summary_ends_on_the_book_s_last_narrated_sentence():
    """The last section of a book may be mostly about something else than its end (the night a story is told);
    the ending is its last narrated sentence (not speech, not a fragment), so the summary says how the book
    ends."""
    from famcli.summary.notes import Section, own_sentence
    from famcli.summary.told import closing_sentence, ending_part

    story = ("The traveller showed the guests his machine, with the machine's levers, the machine's brass rails "
             "and the machine's crystal bars, and the guests laughed at the machine. ")
    waiting = ("Orla Venn waited alone in the empty laboratory for the traveller, who never came back from the "
               "journey he began that morning. ")
    said = "\u201cHe will come back,\u201d said the maid to Orla Venn, who did not answer her for a long while."
    text = "\n\n".join([story * 6] * 6 + [waiting, said])
    last = Section((900, 1000), None, text=text, source="sentence")
    last.note = own_sentence(last)
    assert "machine" in last.note and closing_sentence(last) == waiting.strip()  # speech is not how it ends
    parts = [{"tokens": [0, 500], "summary": "A man builds a machine."},
             {"tokens": [500, 1000], "summary": "He tells the guests."}]
    assert ending_part(parts, last)["summary"] == waiting.strip()


def test_a_text_note_opens_its_quotation():
    """A note in the text's own words that begins inside a quotation ("I shall be late!’ said the White Rabbit")
    takes the sentences before it back to where the quotation opens."""
    from famcli.summary.notes import own_sentence

    text = ("The day was long. ‘Oh dear! Oh dear! I shall be late!’ said the White Rabbit, hurrying past Alice and "
            "the Queen. She followed.")
    section = Section((0, 1), None, Counter({"White Rabbit": 1, "Alice": 1}), [], text=text,
                      weights={"White Rabbit": 1.0, "Alice": 1.0})
    assert own_sentence(section) == ("‘Oh dear! Oh dear! I shall be late!’ said the White Rabbit, hurrying past "
                                     "Alice and the Queen.")


def test_a_log_is_summarized_in_its_own_whole_lines(tiny, tmp_path, capsys):
    """A log's sections end at line ends (a line cut at a token count was a note "7T10:13:36 INFO ..."), its
    summary is its own lines one under the other (no "Then,"), the warnings among them (a part's lines least
    like its others), and the last line, the one error, ends it."""
    import json

    from famcli.__main__ import main

    lines = [f"2026-12-07T10:{i // 60:02d}:{i % 60:02d} INFO worker-{i % 7} processed job {i} in {(37 * i) % 900} ms"
             for i in range(1500)] + ["2026-12-07T11:00:00 ERROR worker-3 disk full on /var/lib/data"]
    warning = "2026-12-07T10:05:00 WARN worker-2 retrying upload to s3 bucket after timeout"
    lines[400:400] = [warning]
    log = tmp_path / "app.log"
    log.write_text("\n".join(lines) + "\n")
    assert main(["summarize", str(log), "--model", tiny, "--json", "-q", "--sections", "8"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["sections"]) >= 4 and all(s["note"] in lines for s in result["sections"])
    told = result["summary"].splitlines()
    assert len(told) >= 3 and all(line in lines for line in told) and told[-1] == lines[-1] and warning in told


def test_a_paragraph_whose_first_line_runs_on_is_told_by_a_sentence_not_a_line():
    """A paragraph whose lines are not alike (a first line run on past the others) is not unwrapped, its long
    sentence was cut at its line breaks, and the note was one of its lines: "hot day made her feel very sleepy
    and stupid), whether the pleasure"."""
    text = ("Victor studied in Ingolstadt. He was born in Geneva. Alice was beginning to get very tired of sitting by "
            "her sister on the\nbank, and of having nothing to do: once or twice she had peeped into the\nbook her "
            "sister was reading, but it had no pictures or conversations in\nit, and what is the use of a book, "
            "thought Alice, without pictures or\nconversations?\n\nSo she was considering in her own mind (as well "
            "as she could, for the\nhot day made her feel very sleepy and stupid), whether the pleasure\n")
    note = section_notes.own_sentence(Section((0, 120), None, Counter({"Alice": 2}), text=text))
    assert note.startswith("Alice was beginning") and note.endswith("conversations?") and "\n" not in note, note


def test_a_sentence_that_ends_in_an_ascii_quote_is_finished():
    """Read as unfinished, "... conversations?'" made a paragraph of a plain-ASCII text look like a log's lines,
    and its section's note was one of its lines."""
    from famcli.summary.telling import finished

    assert finished("thought Alice 'without pictures or conversations?'") and finished('"I am," said he.')
    assert not finished("thought Alice 'without pictures or")


def test_a_catalogue_is_no_told_sentence():
    from famcli.summary.telling import told_sentences

    catalogue = ("Run over a few:—The Authors of the Bible; Aristotle; Pliny; Aldrovandi; Sir Thomas Browne; Gesner; "
                 "Ray; Linnaeus; Rondeletius; Willoughby; Green; Artedi; Sibbald; Brisson; and Marten.")
    told = "The whale rose beside the boat; the harpooneer stood; the mate shouted; the oars bent, and it was gone."
    assert [s for s, _ in told_sentences(f"{catalogue} {told}")] == [told]
