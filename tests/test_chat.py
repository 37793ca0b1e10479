"""famcli chat on a tiny model: through a pipe (text and JSON), in a real terminal (tmux), resumed from a saved
reading, Ctrl-C while reading; and the token-by-token answer it streams."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import uuid

import pytest
from conftest import FAMCLI, FILLER, OUTSIDE, famcli_process


def chat(*args, questions: str, timeout=300):
    return famcli_process(["chat", *args], input=questions, capture_output=True, text=True, timeout=timeout)


def test_pipe_one_answer_per_line_then_resume(tiny, long_doc, tmp_path):
    saved = tmp_path / "reading.state"
    result = chat(str(long_doc), "--model", tiny, "--max-tokens", "4",
                  questions=f"What is the secret password?\n\n/sources\n/save {saved}\nWhere does the river run?\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    answer, sources, save_line, second = out
    assert "bluebird" in sources and sources.startswith("- tokens ")
    assert save_line.startswith("Saved the reading") and saved.stat().st_size > 0
    again = chat(str(long_doc), "--model", tiny, "--max-tokens", "4", "--load-state", str(saved),
                 questions="What is the secret password?\n")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [answer] and "Loaded the reading" in again.stderr


def test_pipe_json_matches_ask(tiny, long_doc):
    """With recall, the answer is read from the passages alone: chat answers what `ask` answers."""
    question = "What is the secret password?"
    result = chat(str(long_doc), "--model", tiny, "--max-tokens", "4", "--json", "-q",
                  questions=f"{question}\n/nonsense\n/quit\nnever asked\n")
    assert result.returncode == 0, result.stderr
    first, unknown = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["question"] == question and any("bluebird" in p["snippet"] for p in first["passages"])
    assert unknown["command"] == "/nonsense" and "Unknown command" in unknown["result"]
    asked = famcli_process(["ask", long_doc, question, "--model", tiny, "--max-tokens", "4", "--json", "-q"],
                           capture_output=True, text=True, timeout=300)
    one = json.loads(asked.stdout)
    assert [one[k] for k in ("answer", "short", "sentence", "answer_path")] == \
        [first[k] for k in ("answer", "short", "sentence", "answer_path")]


def test_save_to_a_missing_folder_keeps_the_session(tiny, long_doc):
    result = chat(str(long_doc), "--model", tiny, "--max-tokens", "2", "-q",
                  questions="/save /no/such/dir/x.state\nWhat is the secret password?\n")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and lines[0].startswith("Error: cannot write state file") and len(lines) == 2


def test_ctrl_c_while_reading_answers_from_what_was_read(tiny, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text((FILLER * 2000 + "\n") * 20)
    proc = famcli_process(["chat", big, "--model", tiny, "--max-tokens", "2", "--answer-from", "memory"], popen=True,
                          stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while (line := proc.stderr.readline()) and "Reading big.txt" not in line:  # the read has begun
        pass
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate("Where does the river run?\n", timeout=300)
    assert proc.returncode == 0, err
    assert "Stopped reading after" in err and len(out.splitlines()) == 1


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_terminal_session_in_tmux(tiny, long_doc, tmp_path):
    """A real terminal: the prompt, an answer streamed to the screen, /sources, Ctrl-D to leave."""
    socket, log = f"famcli-{uuid.uuid4().hex[:8]}", tmp_path / "exit"
    tmux = ["tmux", "-L", socket]
    command = f"cd {OUTSIDE} && env -u PYTHONPATH {FAMCLI[0]} chat {long_doc} --model {tiny} --max-tokens 4 -q; echo $? > {log}"
    subprocess.run([*tmux, "new-session", "-d", "-x", "200", "-y", "50", command], check=True)
    try:
        def screen() -> str:
            return subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout

        def wait_for(predicate, what: str) -> str:
            deadline = time.time() + 120
            while time.time() < deadline:
                text = screen()
                if predicate(text):
                    return text
                time.sleep(0.3)
            raise AssertionError(f"no {what} on the screen:\n{screen()}")

        wait_for(lambda s: "/sources lists" in s and s.rstrip().endswith(">"), "prompt")
        subprocess.run([*tmux, "send-keys", "What is the secret password?", "Enter"], check=True)
        wait_for(lambda s: s.count(">") >= 2 and s.rstrip().endswith(">"), "answer and a new prompt")
        subprocess.run([*tmux, "send-keys", "/sources", "Enter"], check=True)
        shown = wait_for(lambda s: "- tokens " in s.split("/sources")[-1], "sources")
        assert "bluebird" in shown.split("/sources")[-1]  # (the answer may quote the sentence too)
        subprocess.run([*tmux, "send-keys", "C-d"], check=True)
        deadline = time.time() + 60
        while not log.exists() and time.time() < deadline:
            time.sleep(0.3)
        assert log.read_text().strip() == "0"
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_streamed_pieces_join_into_the_answer(tiny_model_dirs):
    from famcli.core.generate import Sampling
    from famcli.jobs.session import Session
    from famcli.models.loading import load_model
    from famcli.models.runtime import prepare

    loaded = load_model(str(tiny_model_dirs["llama"]))
    session = Session(*prepare(loaded, "auto", "auto"))
    prompt = session.tokens.encode("the pass key is 123. the grass is")
    for stop in [("\n",), ("grass",), ()]:
        pieces: list[str] = []
        engine = session.final_reader()
        answer = session.complete_ids(engine, engine.new_state(), prompt, 24, Sampling(temperature=1.0, seed=3),
                                      stop, pieces.append)
        plain = session.complete_ids(engine, engine.new_state(), prompt, 24, Sampling(temperature=1.0, seed=3),
                                     stop)
        assert "".join(pieces) == answer == plain
