"""A generated answer suite for `famcli ask` (docs/recall.md): pass keys, facts and questions the document
cannot answer, hidden in prose from the corpus books, in text, EPUB, DOCX, HTML and gzip'd logs, 1k to 200k
tokens, several facts to a document. Everything comes from a seed; nothing here is used by famcli itself, and
its templates, names and phrasings are its own (famcli.passkey.haystack's, which the answer path was developed on,
are not used), so the suite measures documents famcli was not tuned on.

    .venv/bin/python examples/answer_suite.py --seed 11 --out docs/results/answer_suite.json            # new path only
    .venv/bin/python examples/answer_suite.py --seed 11 --today --out docs/results/answer_suite.json    # and today's

`--today` also answers every question the way famcli did before the fast path (the question, the best 128-token
chunks, the end of the document and the question again, read with full attention from a fresh state, cut at
the first line break): its answers are exactly what that path printed, since its read through the model never
reached the answer. Its time is that answer plus the read through the model at the rate measured in this run
(`--read-sample` tokens read through the default memory).
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import random
import re
import statistics
import string
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NOT_FOUND = "not in the document"


# ----- names, numbers, places, dates made up from syllables: no fixed list to learn ---------------------------

def name(rng: random.Random) -> str:
    onset, vowel, coda = "bdfgklmnprstvz", "aeiou", ["", "n", "r", "l", "s", "th", "ck"]

    def word(syllables: int) -> str:
        return "".join(rng.choice(onset) + rng.choice(vowel) + rng.choice(coda) for _ in range(syllables)).title()

    return f"{word(rng.randint(1, 2))} {word(rng.randint(2, 3))}"


def place(rng: random.Random) -> str:
    stem = name(rng).split()[1]
    return rng.choice([f"{stem}ford", f"{stem}holm", f"Port {stem}", f"{stem}bury", f"{stem}wick"])


def date(rng: random.Random) -> str:
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"]
    return f"{rng.randint(1, 28)} {rng.choice(months)} {rng.randint(1820, 1990)}"


def code(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(2)) + "-" + str(rng.randint(100, 9999))


VALUES = {"person": name, "place": place, "date": date, "code": code,
          "number": lambda rng: str(rng.randint(12, 99999)),
          "key": lambda rng: str(rng.randint(10000, 9999999))}

# (fact sentence, paraphrased question, the answer's slot); {who} is a second person named in the sentence
FACTS = (
    ("The ferry to {place} was captained by a quiet man named {person}.", "Who was in command of the boat that went to {place}?", "person"),
    ("{who} buried the family silver under the third apple tree on {date}.", "When did {who} hide the silver?", "date"),
    ("The apprentice baker, {who}, had saved exactly {number} shillings by spring.", "How much money had {who} put aside?", "number"),
    ("Everyone in the village knew that {who} had been born in {place}.", "What is {who}'s birthplace?", "place"),
    ("The locksmith stamped the number {number} on the brass key to the archive.", "Which number was stamped on the archive key?", "number"),
    ("{who} left the regiment and opened a small bookshop in {place}.", "Where did {who} open a shop after leaving the army?", "place"),
    ("The letter was dated {date} and sealed with green wax.", "On what date was the letter written?", "date"),
    ("{who}'s cousin, a tailor called {person}, made the wedding coat.", "Who made the coat for the wedding?", "person"),
    ("The crate was labelled with the shipping mark {code} in black paint.", "What shipping mark was painted on the crate?", "code"),
    ("The old mill at {place} ground {number} sacks of flour in its last year.", "How many sacks did the mill grind before it closed?", "number"),
    ("Nobody but {who} knew that the spare key was kept in the tea tin.", "Where was the spare key hidden?", "tea tin"),
    ("The orchestra's new conductor, {person}, arrived from {place} in the autumn.", "Who became the conductor of the orchestra?", "person"),
)
PASSKEYS = (
    ("The pass key is {key}. Remember it.", "What is the pass key?"),
    ("Remember this: the pass key is {key}.", "What is the pass key?"),
    ("The secret code for the vault is {key}; keep it safe.", "What is the code of the vault?"),
    ("Note that the access number is {key}.", "Which access number was given?"),
)
LOG_FACTS = (
    ("INFO backup: mounted volume {code} for the nightly backup", "Which volume was mounted for the backup?", "code"),
    ("WARN auth: {number} failed logins for user {who}", "How many logins failed for {who}?", "number"),
    ("INFO deploy: release approved by {person}", "Who approved the release?", "person"),
)
NO_ANSWER = (  # about someone or something the document never mentions
    "What is the name of {stranger}'s dog?", "Where was {stranger} born?", "When did {stranger} sell the farm?",
    "How many horses did {stranger} own?", "Who taught {stranger} to play the violin?",
)


@dataclass
class Question:
    kind: str  # passkey | fact | none
    question: str
    answer: str  # NOT_FOUND for questions the document cannot answer


@dataclass
class Case:
    path: str
    fmt: str
    tokens: int = 0
    questions: list[Question] = field(default_factory=list)


def book_body(path: Path) -> str:
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    start, end = text.find("*** START OF"), text.find("*** END OF")
    text = text[text.find("\n", start) + 1 if start >= 0 else 0: end if end >= 0 else len(text)]
    return text


def prose(rng: random.Random, books: list[Path], chars: int) -> str:
    body = book_body(rng.choice(books))
    start = rng.randrange(len(body))
    return ((body[start:] + "\n\n" + body) * (chars // len(body) + 1))[:chars]


def log_lines(rng: random.Random, chars: int) -> str:
    services = ["api", "db", "cache", "worker", "scheduler", "mail"]
    verbs = ["request served in {n} ms", "connection pool at {n} of 64", "job {n} finished", "cache hit ratio 0.{n}",
             "queue depth {n}", "heartbeat ok after {n} ms"]
    out, t = [], 1_700_000_000
    while sum(map(len, out)) < chars:
        t += rng.randint(1, 30)
        out.append(f"2026-03-{(t // 86400) % 28 + 1:02d}T{(t // 3600) % 24:02d}:{(t // 60) % 60:02d}:{t % 60:02d}Z "
                   f"INFO {rng.choice(services)}: {rng.choice(verbs).format(n=rng.randint(1, 999))}")
    return "\n".join(out)


def fill(template: str, rng: random.Random, used: dict) -> tuple[str, dict]:
    values = {k: f(rng) for k, f in VALUES.items()}
    values["who"] = name(rng)
    values.update(used)
    return template, values


def insert(text: str, sentence: str, depth: float, log: bool) -> str:
    at = int(depth * len(text))
    if log:
        at = text.find("\n", at) + 1 or len(text)
        return text[:at] + sentence + "\n" + text[at:]
    found = re.compile(r"[.!?][\"'”’]?\s").search(text, at)
    at = found.end() if found else at
    return text[:at] + sentence + " " + text[at:]


def make_document(rng: random.Random, books: list[Path], tokens: int, fmt: str, n_facts: int,
                  passkey: bool, unanswerable: bool) -> tuple[str, list[Question]]:
    log = fmt == "log.gz"
    text = log_lines(rng, tokens * 4) if log else prose(rng, books, int(tokens * 4.2))
    questions = []
    templates = rng.sample(LOG_FACTS if log else FACTS, min(n_facts, len(LOG_FACTS if log else FACTS)))
    for template in templates:
        sentence, question, slot = template
        values = {k: f(rng) for k, f in VALUES.items()} | {"who": name(rng)}
        answer = values.get(slot, slot)
        if log:
            t = f"2026-03-0{rng.randint(1, 9)}T1{rng.randint(0, 9)}:0{rng.randint(0, 9)}:1{rng.randint(0, 9)}Z "
            sentence = t + sentence
        text = insert(text, sentence.format(**values), rng.uniform(0.03, 0.97), log)
        questions.append(Question("fact", question.format(**values), answer))
    if passkey:
        sentence, question = rng.choice(PASSKEYS)
        key = VALUES["key"](rng)
        text = insert(text, sentence.format(key=key), rng.uniform(0.03, 0.97), log)
        questions.append(Question("passkey", question, key))
    if unanswerable:
        stranger = name(rng)
        questions.append(Question("none", rng.choice(NO_ANSWER).format(stranger=stranger), NOT_FOUND))
    return text, questions


def write(text: str, fmt: str, path: Path) -> Path:
    if fmt == "txt":
        path.write_text(text)
    elif fmt == "log.gz":
        with gzip.open(path, "wt") as f:
            f.write(text)
    elif fmt == "html":
        body = "".join(f"<p>{html.escape(' '.join(p.split()))}</p>\n" for p in text.split("\n\n") if p.strip())
        path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Doc</title></head><body>{body}"
                        "</body></html>")
    elif fmt == "docx":
        import docx

        document = docx.Document()
        for p in text.split("\n\n"):
            if p.strip():
                document.add_paragraph(" ".join(p.split()))
        document.save(path)
    elif fmt == "epub":
        from ebooklib import epub

        book = epub.EpubBook()
        book.set_identifier(path.stem)
        book.set_title(path.stem)
        book.set_language("en")
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        per = max(1, len(paragraphs) // 3)
        items = []
        for i in range(0, len(paragraphs), per):
            item = epub.EpubHtml(title=f"Part {i // per + 1}", file_name=f"part{i // per + 1}.xhtml", lang="en")
            item.content = "<html><body>" + "".join(f"<p>{html.escape(' '.join(p.split()))}</p>"
                                                    for p in paragraphs[i:i + per]) + "</body></html>"
            book.add_item(item)
            items.append(item)
        book.toc = items
        book.add_item(epub.EpubNcx())
        book.add_item(epub.EpubNav())
        book.spine = items
        epub.write_epub(str(path), book)
    return path


LENGTHS = (1000, 2000, 4000, 8000, 16000, 32000, 64000, 200000)
FORMATS = ("txt", "txt", "epub", "docx", "html", "log.gz")


def build(seed: int, folder: Path, documents: int, lengths=LENGTHS) -> list[Case]:
    rng = random.Random(seed)
    books = sorted(CORPUS.glob("*.txt"))
    cases = []
    for i in range(documents):
        tokens = lengths[i % len(lengths)]
        fmt = FORMATS[rng.randrange(len(FORMATS))] if tokens <= 64000 else "txt"
        text, questions = make_document(rng, books, tokens, fmt, n_facts=rng.randint(1, 3), passkey=rng.random() < 0.6,
                                        unanswerable=i % 4 == 0)
        suffix = {"log.gz": ".log.gz"}.get(fmt, "." + fmt)
        path = write(text, fmt, folder / f"doc{i:03}{suffix}")
        cases.append(Case(str(path), fmt, tokens, questions))
    return cases


def correct(q: Question, reply: str) -> bool:
    said_not_found = NOT_FOUND in reply.lower() or "not found" in reply.lower()
    if q.kind == "none":
        return said_not_found
    return q.answer.lower() in reply.lower() and not said_not_found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--documents", type=int, default=48)
    parser.add_argument("--lengths", default=",".join(str(n) for n in LENGTHS))
    parser.add_argument("--today", action="store_true", help="also answer as famcli did before the fast path")
    parser.add_argument("--read-sample", type=int, default=4096)
    parser.add_argument("--out", default="answer_suite.json")
    parser.add_argument("--answer-rules", default="", help="as famcli's --answer-rules (an ablation)")
    args = parser.parse_args()

    from famcli.jobs.asking import ask_document
    from famcli.jobs.opening import open_session
    from famcli.jobs.options import SessionOptions
    from famcli.recall.search import RecallOptions

    recall = RecallOptions()
    if args.answer_rules:  # (an older famcli has no rules: only asked for when given)
        from famcli.answer.rules import Rules

        recall = RecallOptions(rules=Rules.parse(args.answer_rules))
    session = open_session(SessionOptions(device=None), recall=recall)
    lengths = tuple(int(x) for x in args.lengths.split(","))
    rows, read_rate = [], None
    with tempfile.TemporaryDirectory() as tmp:
        cases = build(args.seed, Path(tmp), args.documents, lengths)
        if args.today:
            read_rate = today_read_rate(session, args.read_sample)
        for case in cases:
            for q in case.questions:
                t0 = time.perf_counter()
                result = ask_document(session, case.path, q.question)
                row = {"format": case.fmt, "length": case.tokens, "tokens": result["tokens_read"], **asdict(q),
                       "reply": result["answer"], "correct": correct(q, result["answer"]),
                       "seconds": round(time.perf_counter() - t0, 2),
                       "answer_seconds": result["timings"].get("answer_seconds")}
                if args.today:
                    t0 = time.perf_counter()
                    reply = today_answer(session, case.path, q.question)
                    spent = time.perf_counter() - t0
                    row["today"] = {"reply": reply, "correct": correct(q, reply), "answer_seconds": round(spent, 2),
                                    "seconds": round(spent + result["tokens_read"] / read_rate, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
                Path(args.out).write_text(json.dumps({"seed": args.seed, "read_rate_today": read_rate, "rows": rows},
                                                     indent=1))
    print(table(rows))


def today_read_rate(session, n: int) -> float:
    """Tokens per second of today's read through the default memory (what `ask` did before answering)."""
    from famcli.passkey.trials import FILLER

    ids = session.tokens.encode(FILLER * (n // 20))[:n]
    state = session.engine.new_state()
    t0 = time.perf_counter()
    session.read_ids(state, ids)
    return len(ids) / (time.perf_counter() - t0)


def today_answer(session, path: str, question: str) -> str:
    """What `famcli ask` printed before the fast path: the answer read from a fresh state after the question,
    the best chunks (documents up to 4,096 tokens whole), the document's last 512 tokens and the question as a
    chat turn, cut at the first line break, at most 48 tokens."""
    from famcli.core.generate import Sampling
    from famcli.documents.registry import open_document
    from famcli.models.prompts import chat_turn, question_header
    from famcli.recall.search import SEPARATOR, RecallOptions, layout, score_chunks

    index = session.lookup.new_index()
    session.lookup.index_text(index, open_document(path).pieces)
    options = RecallOptions(whole=4096)
    tok = session.loaded.tokenizer
    prefix = tok.encode(question_header(question), add_special_tokens=False)
    suffix = tok.encode(chat_turn(tok, question), add_special_tokens=False)
    budget = session.loaded.context_window - 48 - 8
    room = budget - len(prefix) - len(suffix)
    scores = score_chunks(index, question, "bm25", tok.decode) if index.n_tokens > min(room, options.whole) else None
    ids, _ = layout(index, scores, options, prefix, suffix, session.tokens.encode(SEPARATOR), budget, 512)
    engine = session.final_reader()
    return session.complete_ids(engine, engine.new_state(), ids, 48, Sampling(), ("\n",))


def bucket(n: int) -> str:
    return f"{n // 1000}k"


def table(rows: list[dict]) -> str:
    """Markdown: exact answers per kind and length (new, and today where measured), with answer times."""
    has_today = any("today" in r for r in rows)
    head = "| kind | length | n | new exact | new s (median) |" + (" today exact | today s (median) |" if has_today else "")
    out = [head, "|---|---:|---:|---:|---:|" + ("---:|---:|" if has_today else "")]
    kinds = ("passkey", "fact", "none")
    for kind in kinds:
        for n in sorted({r["length"] for r in rows}):
            sel = [r for r in rows if r["kind"] == kind and r["length"] == n]
            if not sel:
                continue
            line = (f"| {kind} | {bucket(n)} | {len(sel)} | {sum(r['correct'] for r in sel)}/{len(sel)} | "
                    f"{statistics.median(r['seconds'] for r in sel):.1f} |")
            if has_today:
                line += (f" {sum(r['today']['correct'] for r in sel)}/{len(sel)} | "
                         f"{statistics.median(r['today']['seconds'] for r in sel):.1f} |")
            out.append(line)
    for kind in kinds:
        sel = [r for r in rows if r["kind"] == kind]
        if sel:
            line = f"| **{kind}** | all | {len(sel)} | **{sum(r['correct'] for r in sel) / len(sel):.0%}** | |"
            if has_today:
                line += f" {sum(r['today']['correct'] for r in sel) / len(sel):.0%} | |"
            out.append(line)
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        print(table(json.loads(Path(sys.argv[2]).read_text())["rows"]))
    else:
        main()
