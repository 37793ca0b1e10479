"""A grader of `famcli summarize` that shares no code with it: it imports nothing from famcli and reads the book
with rules of its own, so it can see what famcli's own checks cannot (issue 50).

Per book, from the book's own text:
  people     the six most mentioned people: capitalised words the book nearly always capitalises, counted as
             people when a title comes before them (Mr., Mrs., Miss, Captain ...) or a speech verb next to them
             ("said Alice", "Holmes answered") at least three times, or when they are used 15+ times and seldom
             as a place (after "in", "at", "to"... under 20% of uses; before "Street", "Hall"... under 30%);
             mostly used mid-sentence ("Alas" opens sentences) and not mostly the first word of a longer name
             ("Mock Turtle", "Sherlock Holmes": the last word counts); ranked by all their mentions. The summary
             names one when it holds its word.
  ending     whether a summary sentence tells the last chapter: at least two of its words are particular to
             the last chapter (ten times as frequent there as in the rest of the book) or it is a sentence of the
             last chapter word for word. The last chapter: from the last chapter heading ("CHAPTER", "Chapter",
             "LETTER", "BOOK" or a roman numeral line), else the last twentieth of the book.
  meta       sentences that only say a passage or text exists ("The passage describes ...", "This text is about")
  joins      broken joins: a link ("Then,", "In the end,") before a word the book writes in lower case
             ("Then, Towards"), or before a word that leans on a sentence the summary does not have ("Then,
             therefore"), a doubled link, or a sentence that begins in lower case
  invented   capitalised words of the summary that the book never writes
  quoted     summary sentences that are a sentence of the book word for word

    python examples/summary_grade.py ../shared/corpus/*.txt [--famcli .venv/bin/famcli] [--json OUT] [--runs DIR]
    (--runs: read DIR/<book>.json, a `famcli summarize --json` output, instead of running famcli)
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

TITLES = ("Mr", "Mrs", "Miss", "Ms", "Dr", "Sir", "Lady", "Lord", "Captain", "Colonel", "Mister", "Madame",
          "Monsieur", "Professor", "Aunt", "Uncle")
SPEECH = ("said", "says", "replied", "cried", "asked", "answered", "exclaimed", "shouted", "whispered",
          "continued", "returned", "observed", "remarked")
NOT_NAMES = set("""I The A An And But Or If In On At Of To For With From By As It He She They We You His Her Their
My Your Our This That These Those There Then When What Who Why How Where Yes No Oh Not Now So Well Do Did Is Was
God Sir Lady Lord Mr Mrs Miss Captain Colonel Doctor Chapter Letter Book Volume Part English French Monday Tuesday
Wednesday Thursday Friday Saturday Sunday January February March April May June July August September October
November December Christmas Heaven Project Gutenberg""".split())
LEANING = {"therefore", "however", "moreover", "besides", "thus", "and", "but", "so", "then", "yet", "also",
           "nevertheless", "accordingly", "consequently", "still", "indeed"}
META = re.compile(r"\b(?:the|this) (?:passage|text|section|excerpt|story|chapter|scene)(?: (?:also|then|mainly|"
                  r"primarily|further))? (?:describes|depicts|explores|focuses|is about|is a|introduces|presents|"
                  r"highlights|portrays|conveys|shows|tells|recounts|centers|centres|discusses|deals|delves|"
                  r"examines|outlines|details|covers|contains|reveals|sets)\b", re.I)
HEADING = re.compile(r"^\s*(?:CHAPTER|Chapter|LETTER|Letter|BOOK|Book|STAVE|ADVENTURE)\b[^\n]{0,60}$|"
                     r"^\s*[IVXLC]+\.\s[^\n]{0,60}$", re.M)
WORD = re.compile(r"[A-Za-z’'][A-Za-z’'-]*")


def the_work(text: str) -> str:
    """The book without a Project Gutenberg header and licence (its own markers), else as it is."""
    start = re.search(r"\*\*\* ?START OF (?:THE|THIS) PROJECT GUTENBERG[^\n]*", text)
    end = re.search(r"\*\*\* ?END OF (?:THE|THIS) PROJECT GUTENBERG", text)
    return text[start.end() if start else 0:end.start() if end else len(text)]


def sentences(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [s.strip() for s in re.split(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[\"“‘(]?[A-Z])", flat) if s.strip()]


def people(work: str, top: int = 6) -> list[tuple[str, int]]:
    words = WORD.findall(work)
    caps, lower = Counter(), Counter()
    for w in words:
        (caps if w[0].isupper() else lower)[w.lower()] += 1
    titled, spoken = Counter(), Counter()
    for m in re.finditer(r"\b(?:%s)\.? ([A-Z][a-z]+)" % "|".join(TITLES), work):
        titled[m.group(1)] += 1
    speech = "|".join(SPEECH)
    for m in re.finditer(r"\b(?:%s),? ([A-Z][a-z]+)\b|\b([A-Z][a-z]+) (?:%s)\b" % (speech, speech), work):
        spoken[m.group(1) or m.group(2)] += 1
    placed, street = Counter(), Counter()  # after "in", "at", "to" ...: a place; before "Street", "Hall": a place
    for m in re.finditer(r"\b(?:in|at|to|from|near|towards|into|through) (?:the )?([A-Z][a-z]+)", work):
        placed[m.group(1)] += 1
    for m in re.finditer(r"\b([A-Z][a-z]+) (?:Street|Square|Road|Lane|House|Hall|Lodge|Park|Place|Court|Inn)\b", work):
        street[m.group(1)] += 1
    middle, joined = Counter(), Counter()  # mid-sentence uses ("Alas" opens them); uses before another name
    for m in re.finditer(r"(?:(?<=[a-z,;] )|(?<=Mr\. )|(?<=Mrs\. )|(?<=Dr\. ))([A-Z][a-z]+)", work):
        middle[m.group(1)] += 1
    for m in re.finditer(r"\b([A-Z][a-z]+) [A-Z][a-z]+", work):
        joined[m.group(1)] += 1
    out = []
    for name, n in Counter(w for w in words if w[0].isupper()).most_common():
        key = name.lower()
        if name in NOT_NAMES or len(name) < 3 or not name[1:].islower() or not name.isalpha() or \
                caps[key] < 0.9 * (caps[key] + lower[key]) or middle[name] < 0.5 * n or joined[name] > 0.8 * n:
            continue
        if titled[name] + spoken[name] >= 3 or (n >= 15 and placed[name] < 0.2 * n and street[name] < 0.3 * n):
            out.append((name, n))
        if len(out) == top:
            break
    return out


def last_chapter(work: str) -> str:
    headings = list(HEADING.finditer(work))
    if headings and len(work) - headings[-1].start() > 2000:
        return work[headings[-1].start():]
    return work[-len(work) // 20:]


def particular(end: str, rest: str) -> set[str]:
    """Words ten times as frequent (per word) in the last chapter as in the rest of the book, seen 2+ times there."""
    a, b = Counter(w.lower() for w in WORD.findall(end)), Counter(w.lower() for w in WORD.findall(rest))
    na, nb = max(1, sum(a.values())), max(1, sum(b.values()))
    return {w for w, n in a.items() if n >= 2 and len(w) > 3 and n / na >= 10 * (b[w] + 0.5) / nb}


def grade(book: Path, result: dict) -> dict:
    work = the_work(book.read_text(encoding="utf-8-sig"))
    summary = result["summary"]
    told = sentences(summary)
    cast = people(work)
    end = last_chapter(work)
    rest = work[: len(work) - len(end)]
    marks = particular(end, rest)
    end_flat, work_flat = " ".join(end.split()), " ".join(work.split())
    ending = [s for s in told if len({w.lower() for w in WORD.findall(s)} & marks) >= 2
              or (len(s.split()) >= 6 and _bare(s) in end_flat)]
    book_words = set(WORD.findall(work))
    lowered = Counter(w for w in WORD.findall(work) if w[0].islower())
    capped = Counter(w for w in WORD.findall(work) if w[0].isupper())
    joins = []
    for m in re.finditer(r"(?:^|(?<=[.!?] ))(Then|In the end|Finally|Next),? (\S+(?: the end)?)", summary):
        word = m.group(2).strip(",;:.")
        if word.lower() in LEANING or word.lower() in ("then", "in the end", "finally", "next") or \
                (word[:1].isupper() and word not in TITLES and lowered[word.lower()] > capped[word]):
            joins.append(m.group(0))
    joins += [m.group(0) for m in re.finditer(r"(?:^|(?<=[.!?] ))(?:Then|In the end),? \S+(?: \S+)? then\b", summary)]
    joins += [s[:40] for s in told if s[:1].islower()]
    invented = sorted({w for w in WORD.findall(summary) if w[0].isupper() and w not in ("It", "Then", "In")
                       and w not in book_words and re.sub(r"[’']s?$", "", w) not in book_words})
    return {"book": book.stem, "people": [n for n, _ in cast],
            "people_named": [n for n, _ in cast if re.search(rf"\b{re.escape(n)}\b", summary)],
            "ending_told": bool(ending), "ending_sentences": ending[:3],
            "meta": [s for s in told if META.search(s)], "broken_joins": joins, "invented": invented,
            "quoted": sum(len(s.split()) >= 6 and _bare(s) in work_flat for s in told), "sentences": len(told),
            "seconds": result.get("timings", {}).get("total_seconds"), "summary": summary}


def _bare(sentence: str) -> str:
    """A summary sentence without the link a summary puts before a quoted one ("Then, ", "In the end, ")."""
    s = re.sub(r"^(?:Then|In the end|It opens with|It ends with|It then turns to|It also tells of),? ", "", sentence)
    return s[:1].upper() + s[1:] if s else s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("books", nargs="+", type=Path)
    parser.add_argument("--famcli", default=str(Path(sys.executable).with_name("famcli")))
    parser.add_argument("--runs", type=Path, help="read <book>.json summaries from here (written when missing)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for book in args.books:
        path = args.runs / f"{book.stem}.json" if args.runs else None
        if path is not None and path.exists():
            result = json.loads(path.read_text())
        else:
            done = subprocess.run([args.famcli, "summarize", str(book), "--json", "-q"], capture_output=True,
                                  text=True, check=True)
            result = json.loads(done.stdout)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(done.stdout)
        row = grade(book, result)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "summary"}, ensure_ascii=False), flush=True)
    total = {"people_named": sum(len(r["people_named"]) for r in rows), "people": sum(len(r["people"]) for r in rows),
             "books_with_5_of_6": sum(len(r["people_named"]) >= min(5, len(r["people"])) for r in rows),
             "ending_told": sum(r["ending_told"] for r in rows), "meta": sum(len(r["meta"]) for r in rows),
             "broken_joins": sum(len(r["broken_joins"]) for r in rows),
             "invented": sum(len(r["invented"]) for r in rows), "books": len(rows)}
    print(json.dumps(total))
    if args.json:
        args.json.write_text(json.dumps({"total": total, "books": rows}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
