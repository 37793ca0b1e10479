#!/usr/bin/env python3
"""Documents as users have them, not as the test corpus is: text in an old encoding, with invisible characters, a
PDF that hyphenates at its line ends, a one-page memo in Markdown, a short letter, a text that repeats itself.
Each is made here, asked one question whose answer it writes, and summarized, through the installed `famcli`
(no famcli code is imported: what is graded is what a user sees).

    python examples/odd_documents.py .venv/bin/famcli [--json OUT]

Per document: the exit code, whether the answer holds the expected word, the `Note:` lines, and, for the summary,
whether it tells any sentence twice and whether it holds a piece of a sentence (begins in lower case, or ends
without a stop).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
sys.path.insert(0, str(HERE.parent / "tests"))
from samples import text_pdf  # noqa: E402  (the tests' PDF writer: one line per "\n")

MEMO = """# Quarterly review, Q3 2026

## Summary
Revenue rose 12% to 4.2 million euros, driven by the Lisbon office. Costs were flat.
The board approved the hiring of two engineers. Maria Santos will lead the new data team from October.

## Risks
The lease on the Porto warehouse ends in March 2027 and has not been renewed.
A customer in Madrid, Ferrovial Logistics, is three months late on payment (310,000 euros).

## Decision
The auditors concluded that the accounts give a true and fair view. The next review is on 15 January 2027.
"""
RUSSIAN = ("Алиса сидела на берегу реки рядом с сестрой и начинала скучать. Она заглянула в книгу сестры, но там "
           "не было ни картинок, ни разговоров. Вдруг мимо пробежал Белый Кролик с розовыми глазами. ")


def documents(folder: Path) -> list[dict]:
    alice = (CORPUS / "alice.txt").read_text(encoding="utf-8-sig")
    start = alice.index("Alice was beginning to get very tired")
    letter = alice[start:start + 4500]  # about 850 words: one part of a document
    made = []

    def add(name: str, data: bytes, question: str, expected: str) -> None:
        (folder / name).write_bytes(data)
        made.append({"file": name, "question": question, "expected": expected})

    old = "Zoë Márquez went to Málaga with her brother Andrés in the spring of 1998. " \
          "She wrote to him from the café “El Faro” every Sunday. "
    add("cp1252.txt", (old * 40 + letter.replace("’", "'").replace("‘", "'")).encode("cp1252"),
        "Where did Zoe go?", "Málaga")
    add("utf16.txt", (old * 40).encode("utf-16"), "What was the name of the café?", "Faro")
    add("cp1251.txt", (RUSSIAN * 30).encode("cp1251"), "Кто пробежал мимо?", "Кролик")
    hidden = "Victor Fran\u00adken\u00adstein studied in Ingol\u200bstadt. He was born in Gen\u00adeva. "
    add("soft_hyphens.txt", (hidden + letter[:2000] + "\n").encode(), "Where did Victor Frankenstein study?",
        "Ingolstadt")
    lines = ["Victor Franken-", "stein was born in Gen-", "eva, and his friend Hen-", "ry Clerval studied lan-",
             "guages at the university."] * 4
    add("hyphenated.pdf", text_pdf(["\n".join(lines)]), "Where was Frankenstein born?", "Geneva")
    add("memo.md", MEMO.encode(), "How much did revenue rise?", "12%")
    add("letter.txt", letter.encode(), "What did Alice see running past her?", "Rabbit")
    add("repeats.txt", (letter.replace("\n", " ") * 12).encode(), "Who did Alice see?", "Rabbit")
    return made


def run(famcli: str, args: list[str]) -> tuple[int, str, list[str]]:
    done = subprocess.run([famcli, *args], capture_output=True, text=True, timeout=600)
    notes = [line for line in done.stderr.splitlines() if line.startswith(("Note:", "Error:"))]
    return done.returncode, done.stdout.strip(), notes


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?。])[\"”’]?\s+", text) if s.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("famcli")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case in documents(folder):
            path = str(folder / case["file"])
            code, answer, notes = run(args.famcli, ["ask", path, case["question"]])
            s_code, summary, s_notes = run(args.famcli, ["summarize", path])
            said = [" ".join(re.findall(r"\w+", s.casefold())) for s in sentences(summary)]
            pieces = [s for s in sentences(summary) if s[:1].islower() or not re.search(r"[.!?。][\"”’)]*$", s)]
            rows.append({**case, "ask_exit": code, "answer": answer, "holds": case["expected"].casefold() in
                         answer.casefold(), "notes": notes, "summary_exit": s_code, "summary_notes": s_notes,
                         "summary": summary, "repeated": len(said) - len(set(said)), "pieces": pieces})
            print(f"{case['file']:18} ask {code} holds {rows[-1]['holds']!s:5} | summary {s_code} repeated "
                  f"{rows[-1]['repeated']} pieces {len(pieces)} | {answer[:90]!r}", flush=True)
    print(f"answers holding: {sum(r['holds'] for r in rows)}/{len(rows)}; summaries with a repeat: "
          f"{sum(r['repeated'] > 0 for r in rows)}; with a piece of a sentence: {sum(bool(r['pieces']) for r in rows)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
