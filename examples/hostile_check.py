"""Hostile inputs through the installed famcli on the default model: the peak memory of `famcli ask` on
decompression and zip bombs (each a few KB to a few MB on disk, ~1 GB inflated), and the time `ask` takes on
HTML with ever more block elements, nested or side by side (linear time means 4x the elements costs about 4x,
not 16x).

    python examples/hostile_check.py [--json docs/results/hostile_check.json]
"""

from __future__ import annotations

import argparse
import bz2
import json
import lzma
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from famcli.common.child import famcli_argv


def bombs(folder: Path) -> dict[str, Path]:
    import zstandard

    block, out = b"a" * (1 << 20), {}
    for name, make in [("bomb.txt.bz2", bz2.BZ2Compressor), ("bomb.txt.xz", lzma.LZMACompressor),
                       ("bomb.txt.zst", lambda: zstandard.ZstdCompressor().compressobj())]:
        c = make()
        (folder / name).write_bytes(b"".join(c.compress(block) for _ in range(1024)) + c.flush())
        out[name] = folder / name
    epub = folder / "bomb.epub"
    with zipfile.ZipFile(epub, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        with z.open("OEBPS/huge.xhtml", "w", force_zip64=True) as f:
            for _ in range(1024):
                f.write(b"\0" * (1 << 20))
    out["bomb.epub"] = epub
    return out


def run(args: list[str]) -> tuple[float, int, str, int]:
    """Seconds, peak RSS of the child in MB, the last stderr line, the exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run([*famcli_argv(*args)], capture_output=True, text=True, cwd=tempfile.gettempdir())
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return seconds, max(peak, before) // 1024, last[:160], done.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = {"bombs": [], "deep_html": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, path in bombs(folder).items():
            # each in a fresh process: ru_maxrss of children is the largest so far, so run the smallest first
            code = (f"import resource, subprocess, sys; from famcli.common.child import famcli_argv; "
                    f"d = subprocess.run(famcli_argv('ask', {str(path)!r}, 'What is it about?', '-q'), "
                    f"capture_output=True, text=True); "
                    f"print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, d.returncode, "
                    f"(d.stderr.strip().splitlines() or [''])[-1][:160])")
            done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                                  cwd=tempfile.gettempdir())
            peak, rc, line = done.stdout.strip().split(" ", 2)
            row = {"file": name, "bytes_on_disk": path.stat().st_size, "exit": int(rc), "peak_mb": int(peak),
                   "error": line}
            report["bombs"].append(row)
            print(json.dumps(row), flush=True)
        for shape, element in (("nested", "<div>x "), ("siblings", "<p>x</p>")):
            for n in (2_000, 8_000, 32_000, 100_000):
                page = folder / f"{shape}{n}.html"
                body = element * n + ("</div>" * n if shape == "nested" else "")
                page.write_text("<html><body><p>The secret word is heron.</p>" + body + "</body></html>")
                seconds, _, line, rc = run(["ask", str(page), "What is the secret word?", "--json", "-q"])
                row = {"shape": shape, "elements": n, "bytes": page.stat().st_size, "seconds": round(seconds, 2),
                       "exit": rc}
                report["deep_html"].append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
