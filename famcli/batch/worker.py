"""The batch worker: one loaded model running a batch job's command (ask, summarize, passkey) over documents one
after another, in a process, a thread or a Ray actor (famcli.batch.runner shares the documents out and knows
nothing of the commands)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from famcli.common.errors import Interrupted, UserError, is_user_error, one_line
from famcli.core.generate import Sampling
from famcli.jobs.asking import ask_document
from famcli.jobs.opening import open_session
from famcli.jobs.summarize import summarize_document
from famcli.passkey.trials import document_trial

if TYPE_CHECKING:
    from famcli.batch.runner import Job


class Worker:
    """One loaded model running a batch Job's command over documents one after another (in a process, a thread
    or a Ray actor; famcli.batch.runner shares the documents out among workers)."""

    def __init__(self, job: Job, threads: int | None = None):
        import torch

        from famcli.recall.search import RecallOptions

        if threads:
            torch.set_num_threads(threads)
        self.job = job
        recall = None if job.recall is None else RecallOptions(**job.recall)
        # ask and passkey know their question before they read: `--memory auto` keeps what it asks about
        self.session = open_session(job.session, recall, question=job.command in ("ask", "passkey"))

    def run(self, path: str) -> dict:
        """The document's output line; any failure becomes an error line."""
        t0 = time.perf_counter()
        try:
            result = self._run(path)
        except Interrupted as stop:  # a summary stopped part way: its line says so (`run` writes it)
            stop.result = {"file": path, "status": "partial", "error": None, **stop.result}
            raise
        except Exception as exc:  # noqa: BLE001 - one bad document must not end the batch
            kind = "error" if is_user_error(exc) else "internal error"
            return {"file": path, "status": "error", "error": one_line(exc), "error_kind": kind,
                    "seconds": round(time.perf_counter() - t0, 3)}
        return {"file": path, "status": "ok", "error": None, **result}

    def _run(self, path: str) -> dict:
        o, job = self.job.options, self.job
        if job.command == "ask":
            return ask_document(self.session, path, o["question"], o.get("password"), o.get("max_tokens", 200),
                                Sampling(o.get("temperature", 0.0), seed=job.session.seed))
        if job.command == "summarize":
            return summarize_document(self.session, path, o.get("password"), o.get("sections", 16),
                                      o.get("max_tokens", 200), o.get("instruction"), job.session.seed,
                                      keep_all=o.get("keep_all", False), notes_by=o.get("notes_by", "text"))
        if job.command == "passkey":
            return document_trial(self.session, path, o.get("length"), o.get("depth", 0.5), job.session.seed)
        raise UserError(f"unknown batch command {job.command!r}")
