#!/usr/bin/env python3
"""How the model reads the passages it is handed (docs/answers.md, "Reading"): for each reader question, the
passages famcli.answer.ask.find gives, the model's own short answer, and each candidate of the kind asked for
with its log-likelihood given the passages and without them. Graded here (any expected word, case and accent
marks ignored), so the strategies can be compared on one run: the model's own answer, the best candidate by
likelihood, by calibrated likelihood (PMI), each with and without the check that a sentence says it.

    python examples/reader_choices.py --out docs/results/answers/choices.json
"""
import argparse
import json
import pathlib
import time

from reader_questions import CORPUS, SETS, holds  # the grading, shared by the reader-question scripts

from famcli.answer.ask import choices, find
from famcli.answer.find import Passages
from famcli.answer.read import sentences_saying
from famcli.answer.rules import Rules
from famcli.documents.boilerplate import clean


def session_parts():
    from famcli.answer.score import Scorer
    from famcli.core.generate import Sampling
    from famcli.jobs.asking import SHORT_TOKENS
    from famcli.jobs.session import Session
    from famcli.models.loading import load_model
    from famcli.models.prompts import chat_turn
    from famcli.models.runtime import prepare

    loaded, config = prepare(load_model(None), "auto", "auto")
    session = Session(loaded, config)
    engine, encode = session.final_reader(), session.lookup.scorer_encode

    def generate(instruction: str) -> str:
        prompt = encode(chat_turn(session.loaded.tokenizer, instruction))
        return session.decode_answer(engine, engine.new_state(), prompt, SHORT_TOKENS, Sampling(no_repeat_ngram=4))

    return Scorer(engine, encode).loglik, generate, lambda instruction: chat_turn(loaded.tokenizer, instruction)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="dev,own")
    parser.add_argument("--rules", default="", help="as famcli's --answer-rules")
    parser.add_argument("--out")
    args = parser.parse_args()
    rules = Rules.parse(args.rules)
    loglik, generate, turn = session_parts()
    rows = []
    for set_name in args.sets.split(","):
        for book, cases in json.loads(SETS[set_name].read_text()).items():
            text = "".join(clean([(CORPUS / book).read_text(encoding="utf-8-sig")]))
            passages = Passages(text, rules.words)
            for case in cases:
                t0 = time.perf_counter()
                read = find(passages, case["q"], loglik, rules)
                evidence = [p.text for p in read]
                options = choices(evidence, case["q"], loglik, generate, turn, rules, passages.names)
                rows.append({"set": set_name, "book": book, "q": case["q"], "any": case["any"],
                             "evidence_holds": holds(" ".join(evidence), case["any"]),
                             "seconds": round(time.perf_counter() - t0, 2),
                             "choices": [{"text": c.text, "own": c.own, "given": round(c.given, 3),
                                          "pmi": round(c.pmi, 3), "right": holds(c.text, case["any"]),
                                          "said": bool(sentences_saying(c.text, case["q"], evidence))}
                                         for c in options]})
                print(set_name, book, case["q"], "->", options[0].text if options else None, flush=True)
    report(rows)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


def report(rows: list[dict]) -> None:
    def pick(cs, key, checked):
        cs = [c for c in cs if c["said"]] if checked else cs
        return max(cs, key=lambda c: c[key]) if cs else None

    for set_name in sorted({r["set"] for r in rows}):
        mine = [r for r in rows if r["set"] == set_name]
        line = {"evidence holds": sum(r["evidence_holds"] for r in mine),
                "own answer": sum(any(c["own"] and c["right"] for c in r["choices"]) for r in mine),
                "some candidate right": sum(any(c["right"] for c in r["choices"]) for r in mine)}
        for key in ("given", "pmi"):
            for checked in (False, True):
                chosen = [pick(r["choices"], key, checked) for r in mine]
                line[f"best by {key}{' checked' if checked else ''}"] = sum(bool(c and c["right"]) for c in chosen)
                if checked:
                    line[f"best by {key} checked, answered"] = sum(c is not None for c in chosen)
        print(set_name, json.dumps(line))


if __name__ == "__main__":
    main()
