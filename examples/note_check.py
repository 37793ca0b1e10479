"""How well a check tells a summary note its text says from one it does not, on sentences people labelled.

The items (examples/note_labels.py: drafts the model wrote for a section, with the sentences it read, in
docs/results/note_labels/to_label_*.json) and their labels (docs/results/note_labels/labels_*.json, marked right or wrong by
people reading those sentences, never by famcli code). For each check, the share of wrong sentences it rejects and of right ones it keeps. A check with
a threshold has it chosen on the even-numbered items (the most wrong ones rejected while keeping at least
KEEP of the right ones) and is reported on the odd-numbered ones, so the numbers are not fitted to themselves.

Checks:
  lexical   what famcli's notes use today: no name the read sentences lack, and SUPPORTED of the draft's
            content words near its names in them (famcli.summary.support)
  yes       the model's own judgement: P("Yes") against P("No") after the read sentences and "Is this true
            according to the text: <sentence>" (famcli.answer.score.Scorer)
  pmi       the draft's log-likelihood after the read sentences less its log-likelihood without them

    python examples/note_check.py [--labels docs/results/note_labels] [--json docs/results/note_labels/check.json]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

KEEP = 0.7  # the share of right sentences a threshold must keep (issue 50: keep 70%, reject 80% of wrong ones)


def session_parts():
    from famcli.answer.score import Scorer
    from famcli.jobs.session import Session
    from famcli.models.loading import load_model
    from famcli.models.prompts import chat_turn
    from famcli.models.runtime import prepare

    loaded, config = prepare(load_model(None), "auto", "auto")
    session = Session(loaded, config)
    return Scorer(session.final_reader(), session.lookup.scorer_encode), lambda text: chat_turn(loaded.tokenizer, text)


def yes_share(scorer, turn, text: str, claim: str) -> float:
    from famcli.answer.score import yes_share as judged

    return judged(scorer, turn, text, claim)


def pmi(scorer, turn, text: str, claim: str) -> float:
    with_text = scorer.loglik(turn(f"{text}\n\nWhat happens in this passage, in one sentence?"), [claim])[0]
    alone = scorer.loglik(turn("What happens in this passage, in one sentence?"), [claim])[0]
    return with_text - alone


def lexical(text: str, claim: str) -> float:
    from famcli.summary.notes import SUPPORTED, invented_names
    from famcli.summary.support import Source, support

    source = Source(text)
    return float(not invented_names(claim, source) and support(claim, source).share >= SUPPORTED)


def threshold(scores: list[float], right: list[bool]) -> float:
    """The highest threshold (score >= it keeps) that keeps at least KEEP of the right ones."""
    kept_right = sorted((s for s, r in zip(scores, right) if r), reverse=True)
    if not kept_right:
        return -math.inf
    return kept_right[max(0, math.ceil(KEEP * len(kept_right)) - 1)]


def rates(scores, right, cut) -> dict:
    wrong = [s for s, r in zip(scores, right) if not r]
    good = [s for s, r in zip(scores, right) if r]
    return {"wrong_rejected": round(sum(s < cut for s in wrong) / max(1, len(wrong)), 3),
            "right_kept": round(sum(s >= cut for s in good) / max(1, len(good)), 3),
            "wrong": len(wrong), "right": len(good)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=Path, default=Path("docs/results/note_labels"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    items = {i["id"]: i for path in sorted(args.labels.glob("to_label_*.json"))
             for i in json.loads(path.read_text())}
    labels = {}
    for path in sorted(args.labels.glob("labels_*.json")):
        labels.update(json.loads(path.read_text()))
    rows = [(items[k], v["label"] == "right") for k, v in labels.items() if k in items and v["label"] in
            ("right", "wrong")]
    scorer, turn = session_parts()
    scores = {"lexical": [], "yes": [], "pmi": []}
    for n, (item, _) in enumerate(rows):
        scores["lexical"].append(lexical(item["read"], item["sentence"]))
        scores["yes"].append(yes_share(scorer, turn, item["read"], item["sentence"]))
        scores["pmi"].append(pmi(scorer, turn, item["read"], item["sentence"]))
        if n % 20 == 0:
            print(f"{n}/{len(rows)}", flush=True)
    right = [r for _, r in rows]
    even = [i for i in range(len(rows)) if int(rows[i][0]["id"].rsplit("-", 1)[1]) % 2 == 0]
    odd = [i for i in range(len(rows)) if i not in set(even)]
    report = {"items": len(rows), "right": sum(right), "wrong": len(right) - sum(right), "checks": {}}
    for name, values in scores.items():
        if name == "lexical":
            cut = 0.5
        else:
            cut = threshold([values[i] for i in even], [right[i] for i in even])
        report["checks"][name] = {"threshold": cut if math.isfinite(cut) else None,
                                  "all": rates(values, right, cut),
                                  "held_out": rates([values[i] for i in odd], [right[i] for i in odd], cut)}
        print(name, json.dumps(report["checks"][name]), flush=True)
    report["scores"] = [{"id": item["id"], "right": r, **{k: round(v[n], 4) for k, v in scores.items()}}
                        for n, (item, r) in enumerate(rows)]
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
