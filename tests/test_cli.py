"""The command line on a tiny model: outputs, JSON, exit codes, one-line errors, pipes and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time

import pytest
from conftest import famcli_process
from samples import epub_book, text_pdf
from typer.testing import CliRunner

from famcli import __version__
from famcli.__main__ import app, main
from famcli.common.errors import UserError

DOC = "The red fox lives in the forest.\nThe secret password is bluebird.\nThe end.\n" * 3


@pytest.fixture
def doc(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text(DOC)
    return path


def run_main(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help():
    runner = CliRunner()
    assert runner.invoke(app, ["--version"]).output.strip() == f"famcli {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("summarize", "ask", "passkey", "stream", "info"):
        assert command in result.output


def test_info_json(capsys, tiny):
    code, out, err = run_main(capsys, "info", "--model", tiny, "--json", "--dtype", "fp32")
    info = json.loads(out)
    assert code == 0 and info["architecture"] == "llama" and info["context_window"] == 2048
    assert info["memory"]["mode"] == "sink" and info["memory"]["state_bytes"] > 0  # auto without an adapter
    code, out, _ = run_main(capsys, "info", "--model", tiny, "--json", "--memory", "fam", "--fam-length", "8")
    assert json.loads(out)["memory"]["mode"] == "fam" and json.loads(out)["memory"]["fam_length"] == 8
    assert info["tokenizer"] == "tiktoken"


def test_ask_json_schema(capsys, tiny, doc):
    code, out, err = run_main(capsys, "ask", str(doc), "What is the password?", "--model", tiny, "--json",
                              "--max-tokens", "5", "-q")
    result = json.loads(out)
    assert code == 0 and err == ""
    assert set(result) >= {"command", "question", "answer", "tokens_read", "timings", "memory", "model"}
    assert result["tokens_read"] > 20 and result["memory"]["mode"] == "keep"  # auto: the question is known


def test_ask_saved_reading_serves_another_question(capsys, tiny, doc, tmp_path):
    state = tmp_path / "doc.state"
    code, out, _ = run_main(capsys, "ask", str(doc), "q1?", "--model", tiny, "--save-state", str(state), "--json", "-q")
    first = json.loads(out)
    code, out, _ = run_main(capsys, "ask", str(doc), "q1?", "--model", tiny, "--load-state", str(state), "--json", "-q")
    second = json.loads(out)
    assert code == 0 and second["answer"] == first["answer"] and second["tokens_read"] == first["tokens_read"]
    other = tmp_path / "other.txt"
    other.write_text("something else entirely\n")
    code, _, err = run_main(capsys, "ask", str(other), "q?", "--model", tiny, "--load-state", str(state))
    assert code == 1 and "holds a reading of doc.txt" in err


def test_summarize_and_passkey_run(capsys, tiny, tmp_path):
    book = tmp_path / "book.txt"
    book.write_text(DOC * 10)
    code, out, _ = run_main(capsys, "summarize", str(book), "--model", tiny, "--json", "--max-tokens", "5", "-q",
                            "--sections", "2")
    result = json.loads(out)
    assert code == 0 and len(result["notes"]) >= 2 and result["tokens_read"] > 1000
    # `notes` are the notes (the reader's own remarks, such as pages without text, are `reader_notes`); by default
    # each is a sentence of its section, and the summary is made of them (no model writes)
    assert result["notes"] == [s["note"] for s in result["sections"]] and result["reader_notes"] == []
    flat = " ".join((DOC * 10).split())
    assert all(s["from"] == "sentence" and s["note"] in flat and not s["drafts"] for s in result["sections"])
    assert all(p["from"] == "extract" for p in result["parts"])
    code, out, _ = run_main(capsys, "summarize", str(book), "--model", tiny, "--json", "--max-tokens", "5", "-q",
                            "--sections", "2", "--notes-by", "model")
    drafted = json.loads(out)  # the model's notes: each section says what the model read and each draft it wrote
    assert code == 0 and all(" ".join(s["read"].split()) in flat and s["drafts"] for s in drafted["sections"])
    assert all(s["note"] in s["drafts"] for s in drafted["sections"] if s["from"] == "model")
    spans = [s["tokens"] for s in result["sections"]]  # consecutive sections, each read whole by the model
    assert spans[0][0] == 0 and spans[-1][1] == result["tokens_read"]
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])) and max(b - a for a, b in spans) <= 1024
    # one part: the summary is its text, as it is (the document names nobody: no cast sentence)
    assert len(result["parts"]) == 1 and result["summary"] == result["parts"][0]["summary"]
    code, out, _ = run_main(capsys, "summarize", str(book), "--model", tiny, "--json", "--length", "long", "-q",
                            "--sections", "12")  # 400 tokens: up to 8 parts, one per 50 tokens, at most one per note
    result = json.loads(out)
    parts, n = result["parts"], len(result["sections"])
    assert code == 0 and len(parts) == min(8, n) and parts[0]["tokens"][0] == 0
    assert parts[-1]["tokens"][1] == result["tokens_read"]
    assert all(a["tokens"][1] == b["tokens"][0] for a, b in zip(parts, parts[1:]))
    told = [p["summary"] for p in parts if p["summary"]] + ([result["ending"]["summary"]] if "ending" in result
                                                             else [])  # a part that only repeats tells nothing
    at = [result["summary"].find(t[1:].split(".")[0]) for t in told]  # each part's text (its first letter may
    assert min(at) >= 0 and at == sorted(at), (at, result["summary"])  # be lowered after "Then, "), in order
    plot = tmp_path / "heat.png"
    code, out, _ = run_main(capsys, "passkey", "--model", tiny, "--length", "200,400", "--depth", "0.2,0.8",
                            "--trials", "1", "--memory", "fam,bswa,sink", "--plot", str(plot), "-q")
    assert code == 0 and plot.stat().st_size > 1000
    assert out.count("| fam |") == 2 and out.count("| bswa |") == 2 and out.count("| sink |") == 2
    assert "digits right" in out


def test_passkey_partial_recall_score():
    from famcli.passkey.trials import Trial, digits_table

    def trial(key, answer):
        return Trial("fam", 1000, 0.5, key, answer, 1000)

    assert trial(46408, "46408.").correct and trial(46408, "46408.").digits == 1.0
    assert trial(46408, "48888.").digits == pytest.approx(0.4) and not trial(46408, "48888.").correct
    assert trial(810, "the pass key").digits == 0.0 and trial(810, "8888").digits == pytest.approx(1 / 3)
    table = digits_table([trial(46408, "46408"), trial(46408, "40000")])
    assert table["fam"][1000] == pytest.approx(0.7)


@pytest.mark.parametrize("model,message", [("/nowhere/model.gguf", "model file not found"),
                                           ("{dir}/fake.gguf", "cannot read GGUF")])
def test_bad_model_paths(capsys, doc, tmp_path, model, message):
    (tmp_path / "fake.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 40)
    code, _, err = run_main(capsys, "ask", str(doc), "q", "--model", model.format(dir=tmp_path))
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_full_past_context_window_suggests_fam(capsys, tiny, tmp_path):
    long = tmp_path / "long.txt"
    long.write_text("word " * 5000)
    code, _, err = run_main(capsys, "ask", str(long), "q", "--model", tiny, "--memory", "full")
    assert code == 1 and "--memory fam" in err


def test_a_bug_is_an_internal_error_not_a_user_error(capsys, tiny, doc, monkeypatch):
    """A user error is one `Error:` line and exit 1; an unexpected exception is labelled as internal (exit 70),
    and FAMCLI_DEBUG=1 lets its traceback through."""
    import famcli.jobs.asking

    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(famcli.jobs.asking, "ask", broken)
    code, out, err = run_main(capsys, "ask", str(doc), "q", "--model", tiny, "-q")
    assert code == 70 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("Error: internal error (KeyError, set FAMCLI_DEBUG=1 for details)")
    code, _, err = run_main(capsys, "ask", str(doc) + ".missing", "q", "--model", tiny, "-q")
    assert code == 1 and err.startswith("Error: no such file") and "internal error" not in err
    monkeypatch.setenv("FAMCLI_DEBUG", "1")
    with pytest.raises(KeyError, match="oops"):
        main(["ask", str(doc), "q", "--model", tiny, "-q"])


def test_usage_errors_exit_2(capsys):
    code, _, err = run_main(capsys, "ask", "--bogus")
    assert code == 2 and err.startswith("Error: ")
    code, _, err = run_main(capsys, "passkey", "--trials", "0")
    assert code == 2


def famcli(*args, **kwargs):
    return famcli_process(args, capture_output=True, text=True, timeout=300, **kwargs)


def test_subprocess_stdin_pipe_json(tiny):
    result = famcli("ask", "-", "What is the password?", "--model", tiny, "--json", "--max-tokens", "4",
                    input=DOC)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tokens_read"] > 20
    assert "Answering from passages" in result.stderr and "Indexed " in result.stderr and "{" not in result.stderr


def test_stream_digests_and_ctrl_c_saves_state(tiny, tmp_path):
    state = tmp_path / "stream.state"
    proc = famcli_process(["stream", "--model", tiny, "--every", "50", "--max-tokens", "3", "--save-state", state],
                          popen=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("log line one: disk is fine\n" * 40)
    proc.stdin.flush()
    first = proc.stdout.readline()  # arrives while stdin is still open: no waiting for EOF
    assert first.startswith("[") and "tokens]" in first
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert state.stat().st_size > 0 and "Saved the reading" in err and "Traceback" not in err


def test_a_log_digest_shows_its_one_unusual_line(tiny):
    """A digest is a note on the text since the one before, and for a log also the line least like the others."""
    routine = [f"10:{i // 60:02d}:{i % 60:02d} INFO worker-{i % 4} done batch {i}" for i in range(120)]
    log = "\n".join(routine[:70] + ["10:01:10 ERROR storage: disk /dev/sdb1 is full"] + routine[70:]) + "\n"
    error = "10:01:10 ERROR storage: disk /dev/sdb1 is full"
    result = famcli("stream", "--model", tiny, "--every", "4000", "--json", input=log)
    assert result.returncode == 0, result.stderr
    (digest,) = json.loads(result.stdout)["digests"]  # by default the digest is the text's own line: that one
    assert digest["digest"] == error and digest["from"] == "sentence" and digest["unusual_line"] is None
    result = famcli("stream", "--model", tiny, "--every", "4000", "--json", "--notes-by", "model", input=log)
    (digest,) = json.loads(result.stdout)["digests"]  # the model's note, and the line beside it
    assert result.returncode == 0 and digest["unusual_line"] == error and digest["from"] == "model"


def test_stream_digests_see_whole_lines(tiny):
    """A digest's text ends at the last whole line before its token count; the cut line opens the next one (a
    digest once showed "FO worker 48 ...", a line cut at the block's end)."""
    lines = [f"{i} INFO worker {i * 7 % 97} processed batch ok" for i in range(300)]
    lines[150] = "150 ERROR worker 3 lost its disk"
    result = famcli("stream", "--model", tiny, "--every", "1500", "--max-tokens", "3", "--json",
                    input="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    digests = json.loads(result.stdout)["digests"]
    shown = [d["digest"] for d in digests] + [d["unusual_line"] for d in digests if d["unusual_line"]]
    assert len(digests) > 5 and set(shown) <= set(lines) and "150 ERROR worker 3 lost its disk" in shown, shown


def test_a_line_of_100k_characters_without_spaces_is_digested(tiny):
    """A note reads about 250 words of its section; one "word" of 100k characters is many times the buffer, so the
    note's prompt is cut to what the buffer holds (it was exit 70: "1 prompts and 2 rows ... do not fit")."""
    result = famcli("stream", "--model", tiny, "--max-tokens", "3", "--json", input="x" * 100_000 + "\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["digests"]


def test_stream_question_at_eof(tiny, tmp_path):
    state = tmp_path / "s.state"
    result = famcli("stream", "--model", tiny, "--question", "What is the password?", "--max-tokens", "3",
                    "--save-state", str(state), "--json", input=DOC * 5)
    payload = json.loads(result.stdout)
    assert result.returncode == 0 and payload["answer"] is not None and payload["tokens_read"] > 100
    assert state.is_file()


def test_progress_only_on_request(tiny, doc):
    quiet = famcli("ask", str(doc), "q", "--model", tiny, "--max-tokens", "2")
    shown = famcli("ask", str(doc), "q", "--model", tiny, "--max-tokens", "2", "--progress",
                   env=os.environ | {"COLUMNS": "100"})
    assert quiet.returncode == shown.returncode == 0
    assert "tok/s" not in quiet.stderr


@pytest.mark.slow
def test_bench_json_and_plot(capsys, tiny, tmp_path):
    plot = tmp_path / "bench.png"
    code, out, err = run_main(capsys, "bench", "--model", tiny, "--length", "200,400", "--memory",
                              "full,fam,memformer", "--json", "--plot", str(plot), "--min-seconds", "0")
    result = json.loads(out)
    assert code == 0, err
    rows = {(r["mode"], r["tokens"]): r for r in result["results"]}
    assert set(rows) == {(m, n) for m in ("full", "fam", "memformer") for n in (200, 400)}
    assert result["weight_products_tokens_per_second"] > 0
    assert all(r["tokens_per_second"] > 0 and r["peak_rss_mib"] > 0 for r in rows.values())
    assert all(r["reading_peak_mib"] > 0 and r["passes"] == 1 for r in rows.values())
    assert rows[("fam", 400)]["state_bytes"] == rows[("fam", 200)]["state_bytes"]
    assert result["roofline_tokens_per_second"] > 0 and plot.stat().st_size > 1000
    from famcli.models.precision import cpu_precision

    assert result["auto"]["choice"] == cpu_precision() in result["auto"]["layer_products_ms"]  # what auto reads in


@pytest.mark.slow
def test_bench_times_reading_and_startup_in_one_run(capsys, tiny):
    from famcli.measure.startup import startup_table

    code, out, err = run_main(capsys, "bench", "--model", tiny, "--length", "200", "--memory", "sink", "--dtype",
                              "fp32", "--startup", "--min-seconds", "0", "--json")
    result = json.loads(out)
    assert code == 0, err
    assert [(r["mode"], r["tokens"]) for r in result["results"]] == [("sink", 200)]
    (row,) = result["startup"]
    assert row["dtype"] == "fp32" and row["ask_seconds"] > row["import_seconds"] > 0
    assert row["load_seconds"] > 0 and row["answer_seconds"] > 0 and row["runs"] == 3
    assert "| famcli, dtype fp32 | " in startup_table(result["startup"])


def test_a_broken_llama_cpp_costs_its_startup_row_not_the_run(monkeypatch):
    """A long bench once ended in an internal error, its results lost, when llama-cpp-python was installed
    without its dependencies: the failed comparison is a row that says so."""
    import importlib.util

    import famcli.measure.startup as st

    def fake(model, dtype, runs, note):
        if dtype == "llama.cpp":
            raise RuntimeError("llama.cpp startup failed: No module named 'diskcache'")
        return {"dtype": dtype, "ask_seconds": 2.0, "python_and_cli_seconds": 0.4, "import_seconds": 0.8,
                "load_seconds": 0.3, "answer_seconds": 0.5, "answer_tokens": 9}

    real = importlib.util.find_spec
    monkeypatch.setattr(st, "startup", fake)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "llama_cpp" else real(name, *a))
    notes = []
    rows = st.startups(None, ["bf16"], note=notes.append)
    assert [r["dtype"] for r in rows] == ["bf16", "llama.cpp"] and "diskcache" in rows[1]["error"]
    table = st.startup_table(rows)
    assert "| famcli, dtype bf16 | 2.00 |" in table and "failed: llama.cpp startup failed" in table
    assert any("diskcache" in n for n in notes)


def test_reading_peak_sees_memory_taken_while_reading():
    """The bench's memory column is the peak while reading, not the load peak the process keeps forever."""
    import time

    from famcli.measure.bench import RssPeak, rss_mib

    with RssPeak() as quiet:
        time.sleep(0.05)
    with RssPeak() as busy:
        block = bytearray(300 * 2**20)
        for i in range(0, len(block), 4096):  # touch every page so it is resident
            block[i] = 1
        time.sleep(0.05)
        del block
    assert quiet.peak is not None and rss_mib() is not None
    assert busy.peak > quiet.peak + 200


def test_bench_reads_short_documents_again_and_takes_the_median(monkeypatch):
    import itertools

    import torch
    from conftest import tiny_model

    from famcli.core.config import MemoryConfig
    from famcli.measure import bench
    from famcli.measure.bench import _passes, engine_rate

    times = iter([3.0, 1.0, 2.0, 9.0])
    row = _passes(lambda: next(times), 100, min_seconds=5.0)  # 3 + 1 + 2 >= 5: three passes, median 2 s
    assert row["passes"] == 3 and row["seconds"] == 2.0 and row["tokens_per_second"] == 50.0
    model = tiny_model("llama")
    ids = torch.randint(0, 256, (300,))
    clock = itertools.count(step=0.1)  # each pass reads 0.1 s on this clock, however loaded the machine is
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(clock))
    row = engine_rate(model, MemoryConfig(mode="fam", block_size=64, fam_length=4), ids, min_seconds=0.25)
    assert row["passes"] == 3 and row["tokens"] == 300 and row["state_bytes"] > 0


LONG = "".join(f"Entry {i}: the weather in the valley was mild and the river ran slow.\n" for i in range(300))
NEEDLE = "The secret password is bluebird.\n"


@pytest.fixture
def long_doc(tmp_path):
    """About 5k tokens on the tiny tokenizer, more than its 2,048-token window: recall must choose passages."""
    path = tmp_path / "long.txt"
    path.write_text(LONG[:2000] + NEEDLE + LONG[2000:])
    return path


def test_ask_lists_the_passages_it_read(capsys, tiny, long_doc):
    code, out, _ = run_main(capsys, "ask", str(long_doc), "What is the secret password?", "--model", tiny,
                            "--json", "--max-tokens", "3", "-q")
    result = json.loads(out)
    assert code == 0 and result["tokens_read"] > 2048
    assert any("bluebird" in p["snippet"] for p in result["passages"])
    assert result["passages"][0]["start_token"] < result["passages"][0]["end_token"]
    assert result["recall"]["scorer"] == "bm25" and result["recall"]["bytes_per_token"]["ids"] == 2
    code, out, _ = run_main(capsys, "ask", str(long_doc), "What is the secret password?", "--model", tiny,
                            "--max-tokens", "3", "-q", "--sources")
    assert code == 0 and "Sources:" in out and "bluebird" in out.split("Sources:")[1]


def test_no_recall_answers_from_the_memory_alone(capsys, tiny, long_doc):
    """--no-recall is the reading before recall existed: question header + document through the memory, then
    the question as a chat turn, decoded greedily (recomputed here with the engine directly)."""
    from famcli.core.engine import build_engine
    from famcli.core.generate import Sampling, generate
    from famcli.jobs.asking import ANSWER_NO_REPEAT
    from famcli.models.prompts import chat_turn, question_header
    from famcli.jobs.session import Session
    from famcli.models.loading import load_model
    from famcli.models.runtime import prepare

    question = "What is the secret password?"
    code, out, _ = run_main(capsys, "ask", str(long_doc), question, "--model", tiny, "--json", "--max-tokens",
                            "6", "-q", "--no-recall")
    result = json.loads(out)
    assert code == 0 and result["passages"] == [] and "recall" not in result
    loaded = load_model(tiny)
    loaded, config = prepare(loaded, "auto", "auto")
    engine = build_engine(loaded, config)
    tokens, tok = Session(loaded, config).tokens, loaded.tokenizer
    state = engine.new_state()
    engine.feed(state, tokens.encode(question_header(question)))
    engine.feed(state, tokens.encode(long_doc.read_text()))
    prompt = tok.encode(chat_turn(loaded.tokenizer, question), add_special_tokens=False)
    stop = [tok.eos_token_id]
    ids = generate(engine, state, prompt, 6, Sampling(no_repeat_ngram=ANSWER_NO_REPEAT), stop_ids=stop)
    expected = tok.decode(ids, skip_special_tokens=True).strip() + ("\u2026" if len(ids) == 6 else "")
    assert result["answer"] == expected and result["truncated"] == (len(ids) == 6)


def test_info_states_the_recall_index_cost(capsys, tiny):
    code, out, _ = run_main(capsys, "info", "--model", tiny, "--json")
    recall = json.loads(out)["recall"]
    # the tiny model: 1 layer (its last) x 2 key-value heads x 4 keys x 16 dims x 2 bytes / 128 tokens
    assert code == 0 and recall["bytes_per_token"] == {"ids": 2, "index": 2.0} and recall["scorer"] == "bm25"


@pytest.mark.parametrize("args,message", [
    (["--recall-scorer", "magic"], "'magic' is not one of 'bm25', 'attention', 'fusion'"),
    (["--recall-blocks", "0"], "--recall-blocks"),
])
def test_bad_recall_options(capsys, tiny, doc, args, message):
    code, _, err = run_main(capsys, "ask", str(doc), "q", "--model", tiny, *args)
    assert code in (1, 2) and message in err and len(err.strip().splitlines()) <= 2


def test_the_library_checks_the_choices_again():
    """The CLI refuses other words before a command starts (Literal types); a batch job or a library caller
    gets the library's own check."""
    from famcli.recall.search import RecallOptions

    with pytest.raises(UserError, match="unknown recall scorer 'magic'"):
        RecallOptions(scorer="magic")
    with pytest.raises(UserError, match="unknown --answer-from 'always'"):
        RecallOptions(answer_from="always")


def test_pdf_passages_name_their_page(capsys, tiny, tmp_path):
    filler = "the weather in the valley was mild and the river ran slow. " * 10
    pages = [filler] * 12
    pages[6] = filler[:200] + "The secret password is bluebird. " + filler[:200]
    path = tmp_path / "report.pdf"
    path.write_bytes(text_pdf(pages))
    code, out, _ = run_main(capsys, "ask", str(path), "What is the secret password?", "--model", tiny, "--json",
                            "--max-tokens", "2", "-q")
    result = json.loads(out)
    assert code == 0 and result["tokens_read"] > 2048
    hits = [p for p in result["passages"] if "bluebird" in p["snippet"]]
    assert hits and hits[0]["page"] == 7


def test_epub_passages_name_their_chapter(capsys, tiny, tmp_path):
    filler = "the weather in the valley was mild and the river ran slow. " * 12
    chapters = [(f"Chapter {i}", filler) for i in range(1, 9)]
    chapters[5] = ("Chapter 6: The Secret", filler[:300] + "The secret password is bluebird. " + filler[:300])
    path = tmp_path / "book.epub"
    epub_book(chapters, path)
    code, out, _ = run_main(capsys, "ask", str(path), "What is the secret password?", "--model", tiny, "--json",
                            "--max-tokens", "2", "-q")
    result = json.loads(out)
    assert code == 0 and result["tokens_read"] > 2048
    hits = [p for p in result["passages"] if "bluebird" in p["snippet"]]
    assert hits and hits[0]["chapter"] == "Chapter 6: The Secret"


@pytest.mark.slow
def test_bench_times_reading_with_a_recall_index(capsys, tiny):
    code, out, err = run_main(capsys, "bench", "--model", tiny, "--length", "300", "--memory",
                              "sink,sink+recall,sink+index", "--json", "--min-seconds", "0")
    assert code == 0, err
    rows = {r["mode"]: r for r in json.loads(out)["results"]}
    assert set(rows) == {"sink", "sink+recall", "sink+index"}
    # the index's bytes count with the state: ids (2 a token), and keys on top for +index
    assert rows["sink+recall"]["state_bytes"] == rows["sink"]["state_bytes"] + 2 * 300
    assert rows["sink+index"]["state_bytes"] > rows["sink+recall"]["state_bytes"]
    code, _, err = run_main(capsys, "bench", "--model", tiny, "--memory", "sink+magic")
    assert code == 2 and "+recall or +index" in err


def test_bench_table_compares_each_precision_with_the_plain_model_in_it():
    """`vs full` divides by the plain model's rate at the same length and precision; int8 reads, which the plain
    model has no path for, by its fp32 forward; the plain rows themselves carry no ratio."""
    from famcli.measure.bench import markdown_table

    def row(mode, dtype, n, tps):
        return {"mode": f"{mode} {dtype}", "dtype": dtype, "tokens": n, "tokens_per_second": tps}

    rows = [row("fam", "bf16", 8000, 1500), row("fam", "int8", 8000, 1000), row("fam", "fp32", 8000, 600),
            row("full", "bf16", 8000, 1000), row("full", "fp32", 8000, 400)]
    ratios = [line.split("|")[6].strip() for line in markdown_table(rows, 5000.0).splitlines()[2:]]
    assert ratios == ["1.50x", "2.50x", "1.50x", "-", "-"]


def test_bench_rows_say_what_auto_resolved_to():
    from famcli.measure.bench import _named
    from famcli.models.precision import cpu_precision

    assert _named("auto", "cpu") == f"auto ({cpu_precision()})" and _named("fp32", "cpu") == "fp32"


def test_a_digest_of_hard_wrapped_prose_shows_no_unusual_line(tiny):
    """Hard-wrapped prose has many short lines, as a log does, and its digest showed a "most unusual line" that was
    a piece of a sentence ("same when I got up this morning? I almost think I can remember feeling a")."""
    sentence = ("Alice walked down the long hall past the little doors, and she wondered how she would ever get out "
                "into that lovely garden with its bright flowers and its cool fountains. ")
    prose = "\n".join(textwrap.wrap(sentence * 12, 70)) + "\n"
    result = famcli("stream", "--model", tiny, "--every", "1500", "--json", input=prose)  # a token a byte
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)["digests"][0]
    assert digest["unusual_line"] is None and digest["digest"].startswith("Alice walked"), digest
