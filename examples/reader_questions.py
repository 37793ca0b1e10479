#!/usr/bin/env python3
"""Reader questions on the corpus books through the installed `famcli chat --json` (one reading per book,
questions through a pipe), graded without importing famcli: an answer holds when it contains any of the
question's expected words, case and accent marks ignored (the rule of ../shared/bookqa/run.py).

    python examples/reader_questions.py .venv/bin/famcli                       # our own 40 (examples/reader_questions.json)
    python examples/reader_questions.py .venv/bin/famcli --questions ../shared/bookqa/questions.json
    python examples/reader_questions.py .venv/bin/famcli --out own.jsonl -- --answer-rules check=off
    python examples/reader_questions.py --table own.jsonl dev.jsonl                 # a markdown row per run
    FAMCLI_CORPUS=DIR python examples/reader_questions.py .venv/bin/famcli --questions examples/reader_questions_apart.json
        # a book kept apart from the project (its "_source" says where the text is), in DIR

It also reports how many answers are quotes ("The document says: ...") and how many say "Not found", and grades
the short answer alone (the text before a quoted source, when the answer gives one) as `strict`."""
import argparse, os, json, pathlib, subprocess, sys, time, unicodedata

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = pathlib.Path(os.environ.get("FAMCLI_CORPUS", HERE.parent.parent / "shared" / "corpus"))
SETS = {"dev": HERE.parent.parent / "shared" / "bookqa" / "questions.json", "own": HERE / "reader_questions.json",
        "heldout": HERE / "reader_questions_heldout.json"}  # heldout: written by a helper that saw no code, and
# committed before the path was run on it


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def holds(text: str, expected: list[str]) -> bool:
    return any(fold(w) in fold(text) for w in expected)


def ask_book(famcli: str, book: pathlib.Path, cases: list[dict], extra: list[str]) -> list[dict]:
    proc = subprocess.Popen([famcli, "chat", str(book), "--json", *extra], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("".join(c["q"] + "\n" for c in cases))
    proc.stdin.close()
    rows, last = [], time.time()
    for case in cases:
        line = proc.stdout.readline()
        now = time.time()
        if not line:
            rows.append({"q": case["q"], "any": case["any"], "answer": None, "hit": False, "strict": False})
            continue
        reply = json.loads(line)
        answer = reply.get("answer") or ""
        short = reply.get("short", answer) or ""
        rows.append({"q": case["q"], "any": case["any"], "answer": answer, "short": short,
                     "hit": holds(answer, case["any"]), "strict": holds(short, case["any"]),
                     "quoted": answer.startswith("The document says"), "not_found": answer.startswith("Not found"),
                     "passages": [p.get("snippet", "") for p in reply.get("passages", [])],
                     "seconds": round(now - last, 2)})
        last = now
    proc.wait()
    if proc.returncode:
        print(f"famcli chat {book.name} exited {proc.returncode}: {proc.stderr.read()[-400:]}", file=sys.stderr)
    return rows


def table(files: list[str]) -> None:
    """One markdown row per results file (--out of earlier runs): how many answers hold; of the answers that are
    not quotes, how many are right and how many wrong (by the short answer alone: a name stated with a quoted
    sentence is right when the name is); the quotes, and how many of them hold an expected word
    (a quote holds it by luck as often as by reading); "Not found"; the median seconds an answer took."""
    import statistics

    print("| run | holds | answered right | answered wrong | quoted (holding) | not found | median s |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for name in files:
        rows = [json.loads(line) for line in open(name)]
        said = [r for r in rows if not r.get("quoted") and not r.get("not_found")]
        quoted = [r for r in rows if r.get("quoted")]
        secs = [r["seconds"] for r in rows if r.get("seconds") is not None]
        print(f"| {pathlib.Path(name).stem} | {sum(r['hit'] for r in rows)}/{len(rows)} | "
              f"{sum(r.get('strict', r['hit']) for r in said)} | {sum(not r.get('strict', r['hit']) for r in said)} | "
              f"{len(quoted)} ({sum(r['hit'] for r in quoted)}) | {sum(bool(r.get('not_found')) for r in rows)} | "
              f"{round(statistics.median(secs), 1) if secs else '-'} |")


def main() -> None:
    if sys.argv[1:2] == ["--table"]:  # reader_questions.py --table runs/*.jsonl
        return table(sys.argv[2:])
    parser = argparse.ArgumentParser()
    parser.add_argument("famcli", nargs="?", default=".venv/bin/famcli")
    parser.add_argument("--questions", default=str(HERE / "reader_questions.json"))
    parser.add_argument("--books", default="")
    parser.add_argument("--out")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # what follows "--" goes to famcli chat
    args = parser.parse_args(argv[:cut])
    args.extra = argv[cut + 1:]
    questions = json.loads(pathlib.Path(args.questions).read_text())
    out = open(args.out, "w") if args.out else None
    totals = {"n": 0, "hit": 0, "strict": 0, "quoted": 0, "not_found": 0}
    books = [b for b in questions if not b.startswith("_")]  # "_source": where a book kept apart comes from
    for name in [b for b in books if not args.books or b in args.books.split(",")]:
        rows = ask_book(args.famcli, CORPUS / name, questions[name], args.extra)
        for row in rows:
            print(f"{'ok  ' if row['hit'] else 'MISS'} {row.get('seconds') or 0:5.1f}s  {row['q']}\n"
                  f"       -> {str(row['answer'])[:220]!r}")
            if out:
                out.write(json.dumps({"book": name, **row}) + "\n")
        for key in ("hit", "strict", "quoted", "not_found"):
            totals[key] += sum(bool(r.get(key)) for r in rows)
        totals["n"] += len(rows)
        print(f"== {name}: {sum(r['hit'] for r in rows)}/{len(rows)}")
    print(f"reader questions: {totals['hit']}/{totals['n']} hold (strict {totals['strict']}), "
          f"{totals['quoted']} quoted, {totals['not_found']} not found")


if __name__ == "__main__":
    main()
