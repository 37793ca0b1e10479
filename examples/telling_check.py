#!/usr/bin/env python3
"""Which sentence tells a part of a book: famcli's choice (famcli.summary.telling.central_sentence, the note of a
summary's section) against the sentences readers chose.

Six passages of about 1,500 words per corpus book, cut from ../shared/corpus by this script (whole paragraphs
from 12%, 32%, 52%, 72% and 90% of the book's words, and its last 1,500 words), their sentences of six words or
more numbered in order. Helpers who saw no code read each passage and chose the three numbered sentences that
best tell what happens in it, and the one that best tells how the book ends (`telling_labels.json`). A pick is
right when it is one of the passage's three. The grading is this script's own; only the choice is famcli's.

    python examples/telling_check.py                 # famcli's choice, with the book's word rarities
    python examples/telling_check.py --no-rarity     # every word weighs 1 (an ablation)
    python examples/telling_check.py --show          # each pick, and the readers' first
"""
import argparse
import json
import os
import pathlib
import re

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = pathlib.Path(os.environ.get("FAMCLI_CORPUS", HERE.parent.parent / "shared" / "corpus"))
WORDS = 1500
SHARES = (0.12, 0.32, 0.52, 0.72, 0.9)


def passages(text: str) -> list[str]:
    """The six passages: whole paragraphs from each share of the words on, and the book's last paragraphs."""
    paragraphs = [m.group() for m in re.finditer(r"\S(?:.|\n(?!\s*\n))*", text)]
    starts, at = [], 0
    for p in paragraphs:
        starts.append(at)
        at += len(p.split())

    def run(indices) -> list[str]:
        got, n = [], 0
        for i in indices:
            if n >= WORDS:
                break
            got.append(paragraphs[i])
            n += len(paragraphs[i].split())
        return got

    out = []
    for share in SHARES:
        first = next(i for i, s in enumerate(starts) if s >= int(share * at))
        out.append(run(range(first, len(paragraphs))))
    out.append(run(range(len(paragraphs) - 1, -1, -1))[::-1])
    return ["\n\n".join(" ".join(p.split()) for p in ps) for ps in out]


def main() -> None:
    from famcli.documents.boilerplate import clean
    from famcli.summary.telling import Rarity, central_sentence
    from famcli.text.sentences import split_sentences

    parser = argparse.ArgumentParser()
    parser.add_argument("--no-rarity", action="store_true")
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    labels = json.loads((HERE / "telling_labels.json").read_text())
    right = chance = total = ending = 0
    for book, chosen in labels.items():
        text = "".join(clean([(CORPUS / f"{book}.txt").read_text()]))
        rarity = None if args.no_rarity else Rarity().add(text).close()
        for k, passage in enumerate(passages(text), start=1):
            numbered = [" ".join(s.split()) for _, s in split_sentences(passage) if len(s.split()) >= 6]
            best = chosen["best"][str(k)]
            pick = " ".join((central_sentence(passage, rarity) or "").split())
            at = next((i + 1 for i, s in enumerate(numbered) if pick and (s in pick or pick in s)), None)
            right += at in best
            chance += len(best) / len(numbered)
            total += 1
            if k == 6:
                ending += at in best or at == chosen["ending"]
            if args.show:
                print(f"{book} {k}: {'right' if at in best else 'wrong'} [{at}] {pick[:110]}\n"
                      f"    readers' first [{best[0]}] {numbered[best[0] - 1][:110]}")
    print(json.dumps({"passages": total, "right": right, "by_chance": round(chance, 1), "endings_right": ending,
                      "rarity": not args.no_rarity}))


if __name__ == "__main__":
    main()
