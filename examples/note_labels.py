"""A labelled set of summary-note sentences, for measuring a check that keeps a note only when its text says it.

`collect` runs `famcli summarize --json` on books and writes every distinct draft the model wrote for a section
(famcli keeps one of them as the section's note) with the sentences the model read for it: one item per
(section, draft). People then mark each item right or wrong by reading those sentences only (labels are never
made by famcli code), and `measure` (examples/note_check.py) reports how a check separates them.

    python examples/note_labels.py collect ../shared/corpus/*.txt --out docs/results/note_labels
        -> docs/results/note_labels/runs/<book>.json (the summarize output) and docs/results/note_labels/items.json (not kept)
    python examples/note_labels.py sample --per-book 40 --out docs/results/note_labels
        -> docs/results/note_labels/to_label_<book>.json: a seeded random sample of each book's items, to be labelled
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from famcli.common.child import famcli_argv


def collect(books: list[Path], out: Path) -> None:
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    items = []
    for book in books:
        run = runs / f"{book.stem}.json"
        if not run.exists():  # a run is kept: labels refer to its drafts
            done = subprocess.run(famcli_argv("summarize", str(book), "--json", "-q"), capture_output=True,
                                  text=True, check=True)
            run.write_text(done.stdout)
        result = json.loads(run.read_text())
        for i, section in enumerate(result["sections"]):
            for draft in section.get("drafts", []):
                if draft.strip():
                    items.append({"id": f"{book.stem}-{i:02d}-{len(items):04d}", "book": book.stem, "section": i,
                                  "place": section["place"], "read": section["read"], "sentence": draft})
        print(f"{book.stem}: {len(result['sections'])} sections, {sum(i['book'] == book.stem for i in items)} drafts",
              flush=True)
    (out / "items.json").write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n")


def sample(out: Path, per_book: int, seed: int = 0) -> None:
    import random

    items = json.loads((out / "items.json").read_text())
    for book in sorted({i["book"] for i in items}):
        mine = [i for i in items if i["book"] == book]
        chosen = sorted(random.Random(f"{seed}-{book}").sample(mine, min(per_book, len(mine))), key=lambda i: i["id"])
        (out / f"to_label_{book}.json").write_text(json.dumps(
            [{"id": i["id"], "read": i["read"], "sentence": i["sentence"]} for i in chosen], indent=1,
            ensure_ascii=False) + "\n")
        print(book, len(chosen))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("books", nargs="+", type=Path)
    c.add_argument("--out", type=Path, default=Path("docs/results/note_labels"))
    s = sub.add_parser("sample")
    s.add_argument("--per-book", type=int, default=40)
    s.add_argument("--out", type=Path, default=Path("docs/results/note_labels"))
    args = parser.parse_args()
    if args.command == "collect":
        collect(args.books, args.out)
    else:
        sample(args.out, args.per_book)


if __name__ == "__main__":
    main()
