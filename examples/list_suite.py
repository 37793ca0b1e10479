"""A generated suite of questions whose answer is several things, or more than one sentence (docs/recall.md,
"Whole answers"): lists of 2 to 5 items, each item stated once on its own page of prose from the corpus books,
in its own wording (never the question's), with distractors of the same kind elsewhere; and why / how
questions whose answer is two or three sentences. 4k to 200k tokens. Every name, item and phrasing comes from
a seed; famcli's own code knows none of them.

    .venv/bin/python examples/list_suite.py --seed 5 --out docs/results/list_suite.json

Each question is answered twice in one run, side by side: `one prompt` (several-part answers off: the best
sentences in one prompt, one answer) and `per item` (each matching sentence on its own, the items given
together). Run with an older checkout first (`PYTHONPATH=OLD python -P examples/list_suite.py --name today`)
for what famcli answered before, and merge the runs: `list_suite.py --table today.json new.json`. Reported per list question: items named, distractors named, words invented (in the
answer but nowhere in the document or the question); for every answer, whether it ends in ":" or mid-sentence.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answer_suite import CORPUS, insert, name, place, prose, write  # noqa: E402

ADJECTIVES = ["river", "copper", "amber", "salted", "black", "silver", "wild", "dried", "crushed", "green", "bitter",
              "sweet", "frozen", "burnt", "pale", "red", "smoked", "golden", "blue", "white"]
NOUNS = ["thyme", "feathers", "resin", "moss", "clay", "filings", "honey", "ash", "nettles", "pepper", "wax",
         "sand", "bark", "petals", "vinegar", "oats", "seeds", "roots", "shells", "tallow"]
TOOLS = ["chisel", "plane", "mallet", "awl", "rasp", "spokeshave", "gimlet", "bevel", "adze", "drawknife",
         "froe", "scribe", "auger", "hacksaw", "trowel", "level", "clamp", "file", "pliers", "vice"]
JOBS = ["carpenter", "cooper", "wheelwright", "mason", "shipwright", "joiner", "glazier", "tinsmith"]


def thing(rng: random.Random) -> str:
    return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"


# (question forms, item sentence forms, distractor forms, item maker). {topic} is fixed per question, {item} per
# sentence; the question's words differ from the items' sentences.
LISTS = [
    (["What are the ingredients of the {topic} tonic?", "Which things are needed to brew the {topic} tonic?",
      "List what goes into the {topic} tonic."],
     ["The {topic} tonic cannot be brewed without {item}.", "Into the {topic} tonic, the old recipe says, goes {item}.",
      "Anyone making the {topic} tonic must first gather {item}.", "{Item} is the part of the {topic} tonic that most people forget."],
     ["The market at the harbour sold {item} by the sack.", "Her grandmother kept {item} in a jar above the stove."],
     thing, lambda rng: name(rng).split()[1]),
    (["Who were the members of the {topic} committee?", "Which people sat on the {topic} committee?",
      "Name the members of the {topic} committee."],
     ["{Item} had been a member of the {topic} committee since its first year.",
      "The {topic} committee counted {item} among its members.", "{Item} was elected to the {topic} committee."],
     ["{Item} once wrote a long letter to the editor about the price of bread.",
      "{Item} kept bees behind the schoolhouse."],
     name, lambda rng: place(rng)),
    (["Which towns did {topic} pass through on the journey north?", "What places did {topic} visit on the way north?",
      "List the towns on {topic}'s route north."],
     ["Travelling north, {topic} spent a night at {item}.", "On the road north {topic} stopped in {item} to change horses.",
      "{topic}'s northward journey led next through {item}."],
     ["A cousin of the family lived in {item}.", "The best cider in the county came from {item}."],
     place, lambda rng: name(rng)),
    (["What tools did the {topic} keep in the workshop?", "Which tools belonged to the {topic}?",
      "Name the tools the {topic} owned."],
     ["In the workshop the {topic} kept a well-oiled {item}.", "The {topic}'s {item} hung on a nail by the door.",
      "Nobody else was allowed to touch the {topic}'s {item}."],
     ["A rusty {item} lay forgotten in the barn.", "The peddler offered a {item} for two pennies."],
     lambda rng: rng.choice(TOOLS), lambda rng: rng.choice(JOBS)),
]

WHYS = [
    ("Why did {who} leave {town}?", ["{who} left {town} in the spring of that year.",
                                     "The harvest had failed for the third time, and the bank had called in the loan on the farm."],
     ["harvest had failed", "loan"]),
    ("How did {who} cross the river?", ["The bridge at {town} had been washed away, so {who} could not cross there.",
                                        "Instead {who} borrowed a rowing boat from the miller and crossed at dawn."],
     ["rowing boat", "boat"]),
    ("Why was the {town} school closed?", ["The school at {town} was closed for the whole winter.",
                                           "Its roof had fallen in during the storm, and there was no money to mend it."],
     ["roof", "storm"]),
    ("How did {who} pay for the new mill?", ["{who} paid for the new mill without borrowing a penny.",
                                             "For ten years {who} had sold wool at the {town} fair and saved every coin."],
     ["wool", "saved"]),
    ("Why did the ship from {town} turn back?", ["The ship that sailed from {town} turned back after two days.",
                                                  "Fever had broken out among the crew and the captain feared for their lives."],
     ["fever", "crew"]),
]


@dataclass
class Question:
    kind: str  # list | why
    question: str
    items: list[str]  # a list's items; a why question's key phrases (any one answers)
    distractors: list[str] = field(default_factory=list)


def make_document(rng: random.Random, books: list[Path], tokens: int, kind: str) -> tuple[str, Question]:
    text = prose(rng, books, int(tokens * 4.2))
    if kind == "why":
        question, sentences, keys = rng.choice(WHYS)
        values = {"who": name(rng), "town": place(rng)}
        text = insert(text, " ".join(s.format(**values) for s in sentences), rng.uniform(0.05, 0.95), False)
        return text, Question("why", question.format(**values), keys)
    questions, forms, distractor_forms, item, topic_of = rng.choice(LISTS)
    topic = topic_of(rng)
    n = rng.randint(2, 5)
    items: list[str] = []
    while len(items) < n + 2:
        candidate = item(rng)
        if candidate not in items and all(candidate not in other and other not in candidate for other in items):
            items.append(candidate)
    items, distractors = items[:n], items[n:]
    depths = sorted(rng.uniform(0.03, 0.97) for _ in range(n + len(distractors)))
    rng.shuffle(depths)
    for value, depth in zip(items, depths):
        sentence = rng.choice(forms).format(topic=topic, item=value, Item=value[:1].upper() + value[1:])
        text = insert(text, sentence, depth, False)
    for value, depth in zip(distractors, depths[n:]):
        sentence = rng.choice(distractor_forms).format(item=value, Item=value[:1].upper() + value[1:])
        text = insert(text, sentence, depth, False)
    return text, Question("list", rng.choice(questions).format(topic=topic), items, distractors)


_WORD = re.compile(r"[a-z][a-z'-]{2,}")


def grade(q: Question, reply: str, document: str) -> dict:
    low = reply.lower()
    words = set(_WORD.findall(low)) - set(_WORD.findall(document.lower())) - set(_WORD.findall(q.question.lower()))
    words -= {"document", "says", "text", "not", "found", "mentions", "never", "answer"}
    end = reply.rstrip()
    last = end.splitlines()[-1].strip() if end else ""
    row = {"invented": sorted(words), "ends_colon": end.endswith(":"),
           "ends_mid": bool(end) and (end.endswith("\u2026") or (last[-1:].isalnum() and not last.startswith(("-", "*"))
                                                              and not re.match(r"\d+[.)]", last)))}
    if q.kind == "list":
        row |= {"named": sum(i.lower() in low for i in q.items), "of": len(q.items),
                "distractors_named": sum(d.lower() in low for d in q.distractors)}
    else:
        row |= {"named": int(any(k in low for k in q.items)), "of": 1}
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--lists", type=int, default=30)
    parser.add_argument("--whys", type=int, default=20)
    parser.add_argument("--lengths", default="4000,16000,64000,200000")
    parser.add_argument("--out", default="list_suite.json")
    parser.add_argument("--name", default="today", help="the variant's name when famcli has no several-part answers")
    args = parser.parse_args()

    import dataclasses

    from famcli.documents.registry import open_document
    from famcli.jobs.asking import ask_document
    from famcli.jobs.opening import open_session
    from famcli.jobs.options import SessionOptions
    from famcli.recall.search import RecallOptions

    session = open_session(SessionOptions(device=None), recall=RecallOptions())
    lengths = [int(x) for x in args.lengths.split(",")]
    rng, books = random.Random(args.seed), sorted(CORPUS.glob("*.txt"))
    if hasattr(session.lookup.answer_options, "lists"):
        variants = {"one prompt": dataclasses.replace(session.lookup.answer_options, lists=False),
                    "per item": dataclasses.replace(session.lookup.answer_options, lists=True)}
    else:  # an older famcli (PYTHONPATH=its checkout): what it answers, as one variant
        variants = {args.name: session.lookup.answer_options}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, kind in enumerate(["list"] * args.lists + ["why"] * args.whys):
            tokens = lengths[i % len(lengths)]
            text, q = make_document(rng, books, tokens, kind)
            fmt = ("txt", "epub", "docx", "html")[i % 4] if tokens <= 64000 else "txt"
            path = write(text, fmt, Path(tmp) / f"doc{i:03}.{fmt}")
            document = "".join(open_document(str(path)).pieces)
            row = {"kind": kind, "length": tokens, "format": fmt, **asdict(q)}
            for label, options in variants.items():
                session.lookup.answer_options = options
                t0 = time.perf_counter()
                result = ask_document(session, str(path), q.question)
                row[label] = {"reply": result["answer"], "seconds": round(time.perf_counter() - t0, 2),
                              **grade(q, result["answer"], document)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            Path(args.out).write_text(json.dumps({"seed": args.seed, "rows": rows}, indent=1))
    print(table(rows))


def merged(paths: list[str]) -> list[dict]:
    """Rows of runs on the same seed (one per famcli version), each question with every run's variants."""
    runs = [json.loads(Path(p).read_text())["rows"] for p in paths]
    rows = [dict(r) for r in runs[0]]
    for other in runs[1:]:
        for row, more in zip(rows, other):
            assert row["question"] == more["question"], "runs of different seeds"
            row |= {k: v for k, v in more.items() if isinstance(v, dict)}
    return rows


def table(rows: list[dict]) -> str:
    variants = [k for k in rows[0] if isinstance(rows[0][k], dict)]
    out = ["| kind | variant | n | items named | distractors named | answers inventing a word | ends in \":\" | "
           "ends mid-sentence | s (median) |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in ("list", "why"):
        sel = [r for r in rows if r["kind"] == kind]
        if not sel:
            continue
        for v in variants:
            got = [r[v] for r in sel]
            named = f"{sum(g['named'] for g in got)}/{sum(g['of'] for g in got)}"
            out.append(f"| {kind} | {v} | {len(sel)} | {named} | {sum(g.get('distractors_named', 0) for g in got)} | "
                       f"{sum(bool(g['invented']) for g in got)} | {sum(g['ends_colon'] for g in got)} | "
                       f"{sum(g['ends_mid'] for g in got)} | {statistics.median(g['seconds'] for g in got):.1f} |")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--table":  # --table RUN.json [RUN.json ...]: one table
        print(table(merged(sys.argv[2:])))
    else:
        main()
