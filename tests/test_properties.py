"""Property tests over the whole path (bytes, reader, index, evidence, answer, summary notes, digests) on the tiny
model: documents nobody wrote down, drawn by Hypothesis, given to the installed `famcli` as a user runs it.

The property, for `ask`, `chat` (questions piped in), `summarize` and `stream`: exit 0 with something on stdout,
or exit 1 or 2 with exactly one `Error:` line on stderr; never exit 70, never a traceback; within a time and a
resident-memory bound.

`make test` draws FAMCLI_PROPERTY_EXAMPLES documents per command (default 8) from a fixed seed, so a run
reproduces; `make properties` draws many more at random (each failure Hypothesis finds is kept as a plain
regression test in tests/test_bad_inputs.py or tests/test_cli.py).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import FAMCLI, OUTSIDE, USER_ENV
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import docx_report, epub_book

EXAMPLES = int(os.environ.get("FAMCLI_PROPERTY_EXAMPLES", "8"))
LONGEST = int(os.environ.get("FAMCLI_PROPERTY_LONGEST", "200000"))  # characters of the long-word and long-line cases
RANDOM = os.environ.get("FAMCLI_PROPERTY_RANDOM") == "1"  # `make properties`: a fresh draw every run
SECONDS = 240  # one run of the tiny model on any drawn document
RSS_MB = 3000  # its peak resident memory

STOP = "the of and a to in is it that was he she for on as with his her at by".split()
WORDS = ("fox forest mill river Mary kitchen milk apple garden Holmes Watson letter ship whale captain "
         "password bluebird 1893 4,250 door key night morning").split()
BLANKS = " \t\n\r\x0b\x0c\ufeff\x00\x1b\x7f\u200b\u2028\u2029\u00a0\u3000"
PUNCTUATION = "!?.,;:-—–()[]{}\"'…*&%$#@/\\|<>~`^_+=«»“”‘’"
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-be", "latin-1", "cp1252", "shift_jis", "gb18030")

any_char = st.characters(codec="utf-8", exclude_categories=("Cs",))  # every script, controls and marks


def prose():
    sentence = st.lists(st.sampled_from(WORDS + STOP), min_size=1, max_size=14).map(lambda ws: " ".join(ws) + ".")
    return st.lists(sentence, min_size=1, max_size=40).map(lambda ss: "\n".join(ss))


def texts():
    """The text kinds the issue lists: any script, blanks and BOMs and controls, stop words only, punctuation only,
    one character, one word up to LONGEST characters, one line that long, and prose with odd bits in it."""
    return st.one_of(
        st.text(any_char, max_size=400),
        st.text(st.sampled_from(BLANKS), max_size=200),
        st.lists(st.sampled_from(STOP), min_size=1, max_size=80).map(" ".join),
        st.text(st.sampled_from(PUNCTUATION), min_size=1, max_size=300),
        any_char,
        st.builds(lambda c, n: c * n, any_char, st.integers(1, LONGEST)),
        st.builds(lambda ws, n: (" ".join(ws) + " ") * n, st.lists(st.sampled_from(WORDS), min_size=1, max_size=5),
                  st.integers(1, LONGEST // 20)),
        st.builds(lambda a, b, c: a + b + c, prose(), st.text(any_char, max_size=50), prose()),
    )


def encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


def payloads():
    """Bytes of a document: random bytes, text in an encoding, or two encodings in one file."""
    return st.one_of(
        st.binary(max_size=3000),
        st.builds(encoded, texts(), st.sampled_from(ENCODINGS)),
        st.builds(lambda a, b: a.encode("utf-8", "replace") + b.encode("latin-1", "replace"), texts(), texts()),
    )


def xml_safe(text: str) -> str:
    """What python-docx accepts (XML 1.0 characters)."""
    return "".join(c for c in text if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd"
                   or c >= "\U00010000")


def write_document(folder: Path, container: str, payload: bytes) -> Path:
    """The payload as a file of one of the formats famcli reads (the text ones decode it first)."""
    text = payload.decode("utf-8", errors="replace")
    if container == "txt":
        path = folder / "doc.txt"
        path.write_bytes(payload)
    elif container == "gz":
        path = folder / "doc.txt.gz"
        path.write_bytes(gzip.compress(payload))
    elif container == "html":
        path = folder / "doc.html"
        path.write_bytes(b"<html><body><p>" + payload + b"</p></body></html>")
    elif container == "epub":
        path = folder / "doc.epub"
        epub_book([("One", text), ("Two", text[::-1])], path)
    else:
        path = folder / "doc.docx"
        docx_report([("h1", "Report"), ("p", xml_safe(text))], path)
    return path


documents = st.tuples(st.sampled_from(["txt", "txt", "gz", "html", "epub", "docx"]), payloads())
questions = st.one_of(st.sampled_from(["Where does the fox live?", "What is the password?", "Who is Mary?",
                                       "How much did it cost?", "Why did the captain leave?"]),
                      st.text(any_char, max_size=120))


def run(args: list, stdin: bytes | None = None) -> tuple[int, str, str, float, float]:
    """The installed famcli on args: exit code, stdout, stderr, seconds, its peak resident MB (os.wait4's rusage)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([*FAMCLI, *map(str, args)], cwd=OUTSIDE, env=USER_ENV, stdout=out, stderr=err,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        if stdin is not None:
            try:
                proc.stdin.write(stdin)
                proc.stdin.close()
            except BrokenPipeError:  # it stopped reading (an error before the input was read): the exit tells
                pass
        deadline = time.monotonic() + SECONDS
        while (waited := os.wait4(proc.pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if waited[0] == 0:
            proc.kill()
            proc.wait()
            pytest.fail(f"famcli {args[0]} ran past {SECONDS} s")
        proc.returncode = os.waitstatus_to_exitcode(waited[1])
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                time.perf_counter() - t0, waited[2].ru_maxrss / 1024)


def holds(command: str, result: tuple[int, str, str, float, float], answers: bool = True) -> None:
    """The property (`answers`: whether exit 0 must print something; chat passes over blank question lines)."""
    code, out, err, seconds, rss = result
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert "Traceback" not in err, err[-2000:]
    assert code != 70 and "internal error" not in err, err[-2000:]
    if code == 0:
        assert out.strip() or not answers, f"{command}: exit 0 with nothing on stdout; stderr: {err[-1000:]}"
        if command != "chat":  # chat answers an unreadable question line with an `Error: ... skipped` line on stdout
            assert not errors, err[-2000:]
    else:
        assert code in (1, 2), (code, err[-2000:])
        assert len(errors) == 1, err[-2000:]
        hints = [line for line in err.splitlines() if line.startswith("Try ")]  # click's usage hint (exit 2)
        assert err.strip().splitlines()[-1] in (errors[0], *hints), err[-2000:]
    assert rss < RSS_MB, f"{command}: {rss:,.0f} MB resident"


def draw(**kwargs):
    return settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large], **kwargs)


@pytest.mark.slow
@draw()
@given(document=documents, question=questions)
def test_ask_any_document(tiny, document, question):
    with tempfile.TemporaryDirectory() as folder:
        path = write_document(Path(folder), *document)
        holds("ask", run(["ask", path, question, "--model", tiny, "--max-tokens", "8"]))


@pytest.mark.slow
@draw()
@given(document=documents, lines=st.lists(questions, min_size=1, max_size=3))
def test_chat_any_document(tiny, document, lines):
    with tempfile.TemporaryDirectory() as folder:
        path = write_document(Path(folder), *document)
        piped = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8", "replace") + b"\n"
        holds("chat", run(["chat", path, "--model", tiny, "--max-tokens", "8"], stdin=piped),
              answers=any(line.strip() for line in lines))


@pytest.mark.slow
@draw()
@given(document=documents)
def test_summarize_any_document(tiny, document):
    with tempfile.TemporaryDirectory() as folder:
        path = write_document(Path(folder), *document)
        holds("summarize", run(["summarize", path, "--model", tiny, "--max-tokens", "16"]))


@pytest.mark.slow
@draw()
@given(payload=payloads())
def test_stream_any_input(tiny, payload):
    holds("stream", run(["stream", "--model", tiny, "--every", "512", "--max-tokens", "8",
                         "--question", "What happened?"], stdin=payload))
