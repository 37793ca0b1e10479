"""The closed sets of choices famcli's options take, as Literal types (docs/design.md, section 11).

The CLI annotates its options with them, so Typer lists the choices in `--help` and refuses any other word
before a command starts; the library checks them again where a value can come from elsewhere (a batch job,
a caller of the library). Memory modes are not here: the memory registry (famcli.core.memory) is their only
list, and it can grow at run time.
"""

from __future__ import annotations

from typing import Literal, get_args

Precision = Literal["auto", "int8", "bf16", "fp16", "fp32"]  # --dtype (famcli.models.loading.pick_dtype)
Scorer = Literal["bm25", "attention", "fusion"]  # --recall-scorer (famcli.recall.search)
AnswerFrom = Literal["auto", "passages", "memory"]  # --answer-from (famcli.jobs.session.Session.answer_path)
NotesBy = Literal["text", "model"]  # summarize and stream --notes-by (famcli.summary.notes.write_notes)
SummaryLength = Literal["short", "medium", "long"]  # summarize --length (famcli.summary.summary.LENGTHS)

PRECISIONS: tuple[str, ...] = get_args(Precision)
SCORERS: tuple[str, ...] = get_args(Scorer)
ANSWER_PATHS: tuple[str, ...] = get_args(AnswerFrom)
