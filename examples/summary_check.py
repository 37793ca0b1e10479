"""Does a summary cover the whole book? A check built from the book itself (issue 15), no reference summary.

For each book: the work's text (boilerplate out), cut into thirds; its names (capitalised words that are not
sentence starters or common words, and that the text capitalises more often than not) that occur 5+ times,
more than half of them in one third ("mostly", as issue 15 puts it), are that third's markers; the strict
markers are those with 70%+ in one third.
Then `famcli summarize --notes --json` runs on the book and the check counts:
  covered     thirds whose markers appear in the summary (beginning, middle, end); covered_strict the same
              with the strict markers
  notes_named notes that name at least one of the book's names (the rest name nothing specific)
  repeated    sentences that occur more than once within the notes or within the summary (loops)
  from_notes  summary sentences that are a note's sentence word for word (a part's summary may be its best
              notes, chosen: famcli/jobs/summary.py)
  boilerplate notes that speak of the edition rather than the work (licence, Project Gutenberg, contents)
  invented    distinct capitalised names (not sentence starters or common words) in the notes and the summary
              that the book never writes; notes_inventing: the notes that hold one
  invented_whole  names of two or more words in the notes and the summary that the book never writes as a whole
              ("Jane Darcy" where it has Jane and Darcy)
  summary_support  each summary sentence against its part of the book, or the ending against its section
              (famcli.documents.support): names absent there, the share of its content words found near its
              names; supported: no such name and half or more found
  seconds     the whole summarize run; tokens/s of the read; with SUMMARY_CHECK_READ=1 also `ask` on the
              same book (a plain read through the memory), timed the same way, for the cost ratio

    python examples/summary_check.py ../shared/corpus/alice.txt [more books] > docs/summary_check.json
    FAMCLI_CHECKOUT=/path/to/other/checkout python examples/summary_check.py ...   # another version of famcli
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from famcli.common.child import famcli_argv
from famcli.documents.boilerplate import clean_text
from famcli.documents.names import names as name_runs
from famcli.documents.registry import open_document
from famcli.documents.support import Source, plain_titles, support

COMMON = set("""The A An And But Or If In On At Of To For With From By As It He She They We You I His Her Their
My Your Our This That These Those There Then When What Who Why How Where Mr Mrs Miss Sir Lady Lord Chapter
Yes No Oh Not Now So Well Do Did Is Was Be Have Had One Two Three All Some Any Every Upon After Before Which
While Though Although Indeed Here Come Let Go Said Says Say Very Up Out Down Over Into Still Yet Even Only
Just Ah Dear Good Great Little Old New First Last Project Gutenberg Letter Book Volume Part God""".split())


BOILERPLATE = re.compile(r"gutenberg|licen[cs]e(?:d| agreement| terms|s)\b|\be-?book|copyright|table of contents|"
                         r"trademark|donation", re.I)  # not "a special license", "note-book"


MOSTLY, STRICT = 0.5, 0.7  # a third's markers: names with more than half of their uses in it; strict: 70%+


def names_by_third(text: str, share: float = MOSTLY) -> tuple[list[list[str]], list[str]]:
    """Each third's markers and every name used 5+ times. A name is a capitalised word that is not a sentence
    starter or a common word, and that the text writes capitalised more often than in lower case ("Certainly",
    "Poor", "Fast" open sentences of dialogue: not names)."""
    words = re.findall(r"(?<![.!?\"“]\s)(?<!^)\b([A-Z][a-z]{2,})\b", text, flags=re.M)
    thirds = [text[i * len(text) // 3:(i + 1) * len(text) // 3] for i in range(3)]
    counts = Counter(w for w in words if w not in COMMON)
    lower = Counter(re.findall(r"\b[a-z]{3,}\b", text))
    markers = [[], [], []]
    for name, n in counts.most_common(400):
        if n < 5:
            break
        if lower[name.lower()] >= n:
            continue
        per = [len(re.findall(rf"\b{name}\b", t)) for t in thirds]
        best = max(range(3), key=lambda i: per[i])
        if per[best] > share * sum(per):
            markers[best].append(name)
    return markers, [w for w, n in counts.items() if n >= 5 and lower[w.lower()] < n]


def _uses(text: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def _sentences(text: str) -> list[str]:
    ends = r"(?<!\bMr)(?<!\bMrs)(?<!\bDr)(?<!\bSt)(?<!\b[A-Z])[.!?]\s"  # "Mr. Darcy" ends no sentence
    return [s.strip().lower() for s in re.split(ends, text + " ") if len(s.split()) > 3]


def capitalised(text: str) -> set[str]:
    """The distinct capitalised words of a note or summary after a sentence's first word, common words aside:
    the names it says."""
    return {w for w in re.findall(r"(?<![.!?\"“]\s)(?<!^)\b([A-Z][a-z]{2,})\b", text) if w not in COMMON}


def invented(text: str, book: str) -> set[str]:
    """Capitalised words of a note or summary (after a sentence's first word) that the book never writes."""
    return {w for w in capitalised(text) if not re.search(rf"\b{w}\b", book)}


def _sentences_as_written(text: str) -> list[str]:
    ends = r"(?<!\bMr)(?<!\bMrs)(?<!\bDr)(?<!\bSt)(?<!\b[A-Z])[.!?]\s"
    return [s.strip() for s in re.split(ends, text + " ") if len(s.split()) > 3]


def invented_whole(text: str, book: str) -> set[str]:
    """Names of two or more words (famcli.documents.names runs, titles written either way) that the book never
    writes as a whole: "Jane Darcy" where the book has Jane and Darcy but nobody of that name."""
    plain = " ".join(plain_titles(book).split())  # a name may run across a line break
    return {n for n in name_runs(text) if " " in n and not _uses(plain, plain_titles(n))}


def parts_support(parts: list[dict], text: str, tokens: int) -> list[dict]:
    """Each summary sentence checked against its part of the book (the part's token range as a share of the
    text, 2% either side): its names absent there and the share of its content words found near its names
    (famcli.documents.support)."""
    out = []
    for part in parts or []:
        a, b = part["tokens"]
        chunk = text[max(0, int((a / tokens - 0.02) * len(text))):int((b / tokens + 0.02) * len(text))]
        source = Source(chunk)
        for sentence in _sentences_as_written(part["summary"]):
            s = support(sentence, source)
            out.append({"sentence": sentence, "share": round(s.share, 3), "invented": s.invented,
                        "unsupported": [w for w in s.words if w not in s.found]})
    return out


def check(book: Path, checkout: str | None = None) -> dict:
    text = "".join(clean_text(open_document(str(book)).pieces))
    markers, names = names_by_third(text)
    strict, _ = names_by_third(text, STRICT)
    env = dict(os.environ, PYTHONPATH=checkout) if checkout else None  # the children start with -P: cwd is not enough
    t0 = time.perf_counter()
    run = subprocess.run(famcli_argv("summarize", str(book), "--notes", "--json", "-q"),
                         capture_output=True, text=True, check=True, env=env)
    seconds = time.perf_counter() - t0
    result = json.loads(run.stdout)
    read = None
    if os.environ.get("SUMMARY_CHECK_READ"):  # a plain read of the same book through the model, timed the same way
        t0 = time.perf_counter()
        subprocess.run(famcli_argv("ask", str(book), "Who is in it?", "--answer-from", "memory", "--json", "-q"),
                       capture_output=True, text=True, check=True, env=env)
        read = round(time.perf_counter() - t0, 1)
    summary, notes = result["summary"], result["notes"]
    in_notes, in_summary = _sentences(" ".join(notes)), _sentences(summary)
    said = set().union(*(capitalised(n) for n in notes), capitalised(summary))
    made_up = sorted(set().union(*(invented(n, text) for n in notes), invented(summary, text)))
    ending = [result["ending"]] if result.get("ending") else []  # the last section's note: how the book ends
    checked = parts_support((result.get("parts") or []) + ending, text, result["tokens_read"])
    whole_made_up = sorted(set().union(*(invented_whole(n, text) for n in notes), invented_whole(summary, text)))
    return {"book": book.name, "tokens": result["tokens_read"], "seconds": round(seconds, 1), "ask_seconds": read,
            "read_tokens_per_second": result["timings"]["tokens_per_second"],
            "markers": markers, "covered": [any(_uses(summary, m) for m in third) for third in markers],
            "markers_strict": strict, "covered_strict": [any(_uses(summary, m) for m in third) for third in strict],
            "covered_in_notes": [any(_uses(" ".join(notes), m) for m in third) for third in markers],
            "notes": len(notes), "notes_named": sum(any(n in note for n in names) for note in notes),
            "repeated": sum(c - 1 for part in (in_notes, in_summary) for c in Counter(part).values() if c > 1),
            "from_notes": sum(s in set(in_notes) for s in in_summary), "summary_sentences": len(in_summary),
            "boilerplate": sum(bool(BOILERPLATE.search(note)) for note in notes),
            "invented": made_up, "names_said": len(said), "invented_share": round(len(made_up) / max(1, len(said)), 4),
            "summary_sentences_inventing": sum(bool(invented(s, text)) for s in _sentences_as_written(summary)),
            "notes_inventing": sum(bool(invented(n, text)) for n in notes),
            "invented_whole": whole_made_up,
            "summary_sentences_checked": len(checked),
            "summary_sentences_supported": sum(not c["invented"] and c["share"] >= 0.5 for c in checked),
            "summary_support_mean": round(sum(c["share"] for c in checked) / max(1, len(checked)), 3),
            "summary_support": checked,
            "summary": summary, "notes_text": notes, "sections": result["sections"], "parts": result.get("parts")}


if __name__ == "__main__":
    where = os.environ.get("FAMCLI_CHECKOUT")
    results, partial = [], os.environ.get("SUMMARY_CHECK_PARTIAL")  # a file rewritten after every book
    for p in sys.argv[1:]:
        results.append(check(Path(p).resolve(), where))
        if partial:
            Path(partial).write_text(json.dumps(results, indent=2, ensure_ascii=False))
        r = results[-1]
        print(f"{r['book']}: {r['tokens']:,} tokens, {r['seconds']} s, thirds in summary {sum(r['covered'])}/3 "
              f"(strict {sum(r['covered_strict'])}/3), "
              f"in notes {sum(r['covered_in_notes'])}/3, named {r['notes_named']}/{r['notes']}, repeated "
              f"{r['repeated']}, from notes {r['from_notes']}/{r['summary_sentences']}, boilerplate {r['boilerplate']}, invented "
              f"{len(r['invented'])} of {r['names_said']} names in {r['notes_inventing']} notes, whole names invented "
              f"{len(r['invented_whole'])}, summary sentences supported {r['summary_sentences_supported']}/"
              f"{r['summary_sentences_checked']} (mean share {r['summary_support_mean']})", file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2, ensure_ascii=False))
