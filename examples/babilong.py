"""What is true now: BABILong-style stories (Kuratov et al. 2024) in a corpus book's sentences, asked through the
installed `famcli ask` with its defaults (issue 53). Our own generator, in the bAbI wording and vocabulary:

  qa1  single supporting fact: "Mary moved to the kitchen." ... "Where is Mary?" (her latest move)
  qa2  two supporting facts:   "Mary picked up the milk." ... "Mary went to the office." ... "Where is the milk?"
       (where its holder went after taking it, or where it was dropped)
  qa3  three supporting facts: "Mary got the milk." ... "Mary went to the office." ... "Mary went to the garden."
       ... "Where was the milk before the garden?" (the room it was carried through before the last one)

Each story has 6-10 facts about 4 people, 6 rooms and 3 objects, put in order between the sentences of a book
(every fact at a random place, the facts' order kept), so that the document is about `--lengths` tokens (1.3
tokens per word). An answer is right when it names the expected room and no other room.

    python examples/babilong.py --lengths 4k,16k --stories 20 [--tasks qa1,qa2] [--book ../shared/corpus/pride.txt]
        [--famcli .venv/bin/famcli] [--json docs/results/babilong/today.json] [--plot docs/results/babilong/today.png]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEOPLE = ["Mary", "John", "Daniel", "Sandra"]
ROOMS = ["kitchen", "hallway", "bathroom", "garden", "office", "bedroom"]
OBJECTS = ["milk", "apple", "football"]
MOVE = ["moved to", "went to", "journeyed to", "travelled to", "went back to"]
TAKE = ["picked up", "got", "grabbed", "took"]
DROP = ["dropped", "discarded", "put down", "left"]
TOKENS_PER_WORD = 1.3


def qa1(rng: random.Random) -> tuple[list[str], str, str]:
    facts, where = [], {}
    for _ in range(rng.randint(6, 10)):
        who, room = rng.choice(PEOPLE), rng.choice(ROOMS)
        facts.append(f"{who} {rng.choice(MOVE)} the {room}.")
        where[who] = room
    who = rng.choice(sorted(where))
    return facts, f"Where is {who}?", where[who]


def qa2(rng: random.Random) -> tuple[list[str], str, str]:
    """Moves, and one object taken by someone who then moves (and maybe drops it); asked where the object is."""
    while True:
        facts, where, holder, place = [], {}, None, None
        thing = rng.choice(OBJECTS)
        for who in rng.sample(PEOPLE, 2):  # two people start somewhere
            where[who] = rng.choice(ROOMS)
            facts.append(f"{who} {rng.choice(MOVE)} the {where[who]}.")
        for _ in range(rng.randint(4, 8)):
            roll = rng.random()
            if holder is None and roll < 0.35:
                holder = rng.choice(sorted(where))
                facts.append(f"{holder} {rng.choice(TAKE)} the {thing} there." if rng.random() < 0.3 else
                             f"{holder} {rng.choice(TAKE)} the {thing}.")
            elif holder is not None and roll < 0.15:
                facts.append(f"{holder} {rng.choice(DROP)} the {thing}.")
                place, holder = where[holder], None
            else:
                who, room = rng.choice(PEOPLE), rng.choice(ROOMS)
                where[who] = room
                facts.append(f"{who} {rng.choice(MOVE)} the {room}.")
        answer = where[holder] if holder is not None else place
        if answer is not None:
            return facts, f"Where is the {thing}?", answer


def qa3(rng: random.Random) -> tuple[list[str], str, str]:
    """Three supporting facts: someone takes an object and carries it through rooms (others move between);
    asked where the object was before the room it went to last ("Where was the milk before the office?")."""
    while True:
        facts, where = [], {}
        thing = rng.choice(OBJECTS)
        holder = rng.choice(PEOPLE)
        where[holder] = rng.choice(ROOMS)
        facts.append(f"{holder} {rng.choice(MOVE)} the {where[holder]}.")
        facts.append(f"{holder} {rng.choice(TAKE)} the {thing}.")
        trail = [where[holder]]
        for _ in range(rng.randint(3, 7)):
            who = holder if rng.random() < 0.5 else rng.choice(PEOPLE)
            room = rng.choice([r for r in ROOMS if r != where.get(who)])
            where[who] = room
            facts.append(f"{who} {rng.choice(MOVE)} the {room}.")
            if who == holder:
                trail.append(room)
        if rng.random() < 0.5:
            facts.append(f"{holder} {rng.choice(DROP)} the {thing}.")
        if len(trail) >= 2 and trail[-1] not in trail[:-1]:
            return facts, f"Where was the {thing} before the {trail[-1]}?", trail[-2]


TASKS = {"qa1": qa1, "qa2": qa2, "qa3": qa3}


def book_sentences(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    start = re.search(r"\*\*\* ?START OF[^\n]*", text)
    end = re.search(r"\*\*\* ?END OF", text)
    body = " ".join(text[start.end() if start else 0:end.start() if end else len(text)].split())
    pieces, sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z“\"‘])", body), []
    for piece in pieces:  # "Mr. Darcy" is one sentence: a fact put after "Mr." would read "Mr. Mary went ..."
        if sentences and re.search(r"\b(?:Mr|Mrs|Ms|Dr|St|Capt|Col|Rev|Messrs)\.$", sentences[-1]):
            sentences[-1] += " " + piece
        else:
            sentences.append(piece)
    return [s for s in sentences if 3 <= len(s.split()) <= 60]


def story_document(facts: list[str], sentences: list[str], tokens: int, rng: random.Random) -> str:
    """The facts in order at random places among consecutive book sentences of about `tokens` tokens."""
    words = int(tokens / TOKENS_PER_WORD) - sum(len(f.split()) for f in facts)
    start = rng.randrange(0, max(1, len(sentences) // 2))
    filler, n = [], 0
    i = start
    while n < words:
        filler.append(sentences[i % len(sentences)])
        n += len(filler[-1].split())
        i += 1
    at = sorted(rng.sample(range(len(filler) + 1), len(facts)))
    out, k = [], 0
    for j, sentence in enumerate(filler + [None]):
        while k < len(facts) and at[k] == j:
            out.append(facts[k])
            k += 1
        if sentence is not None:
            out.append(sentence)
    paragraphs = [" ".join(out[p:p + 6]) for p in range(0, len(out), 6)]
    return "\n\n".join(paragraphs) + "\n"


def right(answer: str, room: str, question: str = "") -> bool:
    """The answer names the expected room and no other (the room a qa3 question names itself aside)."""
    asked = {r for r in ROOMS if re.search(rf"\b{r}\b", question.lower())} - {room}
    named = {r for r in ROOMS if re.search(rf"\b{r}\b", answer.lower())} - asked
    return named == {room}


def parse_length(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="4k,16k")
    parser.add_argument("--stories", type=int, default=20)
    parser.add_argument("--tasks", default="qa1,qa2")
    parser.add_argument("--book", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus" /
                        "pride.txt")
    parser.add_argument("--famcli", default=str(Path(sys.executable).with_name("famcli")))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--extra", default="", help="more famcli ask options, as one string")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    sentences = book_sentences(args.book)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for task in args.tasks.split(","):
            for length in map(parse_length, args.lengths.split(",")):
                for k in range(args.stories):
                    rng = random.Random(f"{args.seed}-{task}-{length}-{k}")
                    facts, question, room = TASKS[task](rng)
                    doc = Path(folder) / f"{task}-{length}-{k}.txt"
                    doc.write_text(story_document(facts, sentences, length, rng))
                    t0 = time.perf_counter()
                    done = subprocess.run([args.famcli, "ask", str(doc), question, "--json", "-q",
                                           *args.extra.split()], capture_output=True, text=True)
                    answer = json.loads(done.stdout)["answer"] if done.returncode == 0 else f"ERROR {done.stderr}"
                    rows.append({"task": task, "tokens": length, "story": k, "question": question, "expected": room,
                                 "answer": answer, "right": right(answer, room, question),
                                 "seconds": round(time.perf_counter() - t0, 2)})
                    print(json.dumps(rows[-1]), flush=True)
    cells = {}
    for r in rows:
        cells.setdefault((r["task"], r["tokens"]), []).append(r["right"])
    table = ["| task | " + " | ".join(f"{n:,} tokens" for n in sorted({t for _, t in cells})) + " |"]
    table.append("| --- |" + " --- |" * len({t for _, t in cells}))
    for task in args.tasks.split(","):
        table.append(f"| {task} | " + " | ".join(f"{sum(cells[(task, n)])}/{len(cells[(task, n)])}"
                                                 for n in sorted({t for _, t in cells})) + " |")
    print("\n".join(table))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"table": table, "rows": rows}, indent=1) + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        lengths = sorted({t for _, t in cells})
        for task in args.tasks.split(","):
            plt.plot(lengths, [sum(cells[(task, n)]) / len(cells[(task, n)]) for n in lengths], marker="o", label=task)
        plt.xscale("log")
        plt.ylim(0, 1)
        plt.xlabel("document tokens")
        plt.ylabel("right")
        plt.legend()
        plt.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
