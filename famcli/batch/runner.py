"""`famcli batch`: the same job over many documents, on this machine or on a Ray cluster.

Every document gives one JSON line in the output, written as soon as it finishes: the object the single
command prints with `--json`, plus `file`, `status` (ok | error | partial: a summary stopped by Ctrl-C, read
again on `--resume`) and `error`. A document that cannot be read is
an error line, never the end of the batch; `resume` skips documents already in the output. Each worker loads
the model once and reads documents one after another with its share of the cores (the worker, which runs
the command itself, is famcli.batch.worker.Worker; this module only shares the documents out):

    local  worker processes on this machine (one in-process worker when there is one job)
    Ray    one actor per worker, placed by Ray with its CPUs and memory declared (`pip install 'famcli[ray]'`),
           on a local Ray instance or an existing cluster (`address`)
"""

from __future__ import annotations

import glob
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from famcli.common.errors import Interrupted, UserError
from famcli.documents.registry import suffixes
from famcli.jobs.options import SessionOptions


@dataclass(frozen=True)
class Job:
    """What to do with each document: the command, its own options, and how to load the model."""

    command: str  # ask | summarize | passkey
    options: dict = field(default_factory=dict)  # the command's options (question, max_tokens, ...)
    session: SessionOptions = field(default_factory=SessionOptions)  # how each worker loads the model
    recall: dict | None = field(default_factory=dict)  # RecallOptions fields; None: --no-recall


def find_documents(items: Iterable[str]) -> list[Path]:
    """Files, globs and folders (searched recursively for documents famcli reads), sorted, each once."""
    found: dict[Path, None] = {}
    for item in items:
        path = Path(item)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes()))
        elif path.is_file():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not matches:
                raise UserError(f"no documents match {item}")
        found.update(dict.fromkeys(matches))
    if not found:
        raise UserError("no documents to read")
    return list(found)


def finished(out: Path) -> set[str]:
    """The documents an earlier run already wrote a line for. The file must be one famcli batch wrote: every
    line one of its JSON objects, but a last line a kill cut short, which is cut off (nothing else is touched);
    a file with any other line is refused, never rewritten."""
    from famcli.common.outputs import appended_lines, cut_to

    if not out.is_file():
        return set()
    entries, keep = appended_lines(out)
    done = set()
    for number, entry in enumerate(entries, 1):
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str) and "status" in entry):
            raise UserError(f"{out} line {number} is not a famcli batch line: --resume continues only a file "
                            "famcli batch wrote; choose another --out")
        if entry["status"] != "partial":  # a document stopped part way is read again
            done.add(entry["file"])
    cut_to(out, keep)  # the line a kill cut short
    return done


def plan_workers(jobs: int | None, documents: int, cores: int | None = None,
                 memory_gib: float | None = None) -> tuple[int, int]:
    """(workers, threads each) on this machine: `jobs` workers, by default one per core as far as memory allows
    (2 GiB each; measured on 2 cores: two 1-thread workers read 1.28x faster than one 2-thread worker), never more
    than documents or cores, the cores shared out so the machine is not oversubscribed."""
    cores = cores or os.cpu_count() or 1
    memory_gib = memory_gib if memory_gib is not None else _memory_gib()
    workers = max(1, min(jobs or max(1, int(memory_gib // 2)), documents, cores))
    return workers, max(1, cores // workers)


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    except (ValueError, OSError, AttributeError):
        return 2.0


def run_local(worker_class: type, job: Job, documents: list[str], workers: int, threads: int) -> Iterator[dict]:
    """Output lines as documents finish, on this machine."""
    if workers == 1:
        worker = worker_class(job, threads)
        for path in documents:
            yield worker.run(path)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch thread pools
    pool = context.Pool(workers, initializer=_start_worker, initargs=(worker_class, job, threads))
    try:
        yield from pool.imap_unordered(_run_in_worker, documents)
    except BaseException:  # Ctrl-C, a signal, the caller stopping: the lines written stay; the workers stop now
        pool.terminate()
        pool.join()
        raise
    pool.close()  # done: the workers exit on their own (terminated, they left "leaked semaphore" warnings on stderr)
    pool.join()


_worker: object | Exception | None = None  # the model this worker process loaded once (the Pool initializer)


def _start_worker(worker_class: type, job: Job, threads: int) -> None:
    """Load the model once per worker process; Ctrl-C reaches the whole process group, and only the parent acts
    on it (it stops the workers)."""
    import signal

    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _worker = worker_class(job, threads)
    except Exception as exc:  # noqa: BLE001 - raised again with the first document, so the batch ends with it
        _worker = exc  # (a Pool whose initializer raises would start new workers forever)


def _run_in_worker(path: str) -> dict:
    if isinstance(_worker, Exception):
        raise _worker
    return _worker.run(path)



def run_ray(worker_class: type, job: Job, documents: list[str], workers: int | None, threads: int | None,
            address: str | None = None, memory_gib: float = 2.0) -> Iterator[dict]:
    """Output lines as documents finish, one Ray actor per worker (model loaded once per actor), each
    declaring `threads` CPUs (default 2) and `memory_gib` of memory so Ray can pack them onto machines;
    `workers` defaults to as many as the cluster's CPUs hold."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise UserError("--ray needs Ray: pip install 'famcli[ray]'") from exc
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 **({} if address else {"num_cpus": os.cpu_count()}))
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        threads = threads or min(2, cpus)
        workers = max(1, min(workers or cpus // threads, len(documents)))
        actor = ray.remote(num_cpus=threads, memory=int(memory_gib * 2 ** 30))(worker_class)
        pool = ActorPool([actor.remote(job, threads) for _ in range(workers)])
        yield from pool.map_unordered(lambda a, path: a.run.remote(path), documents)
    finally:
        if started:
            ray.shutdown()


@dataclass
class Progress:
    """What the batch has done so far (for the progress line)."""

    total: int
    done: int = 0
    failed: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)

    def add(self, line: dict) -> None:
        self.done += 1
        self.failed += line["status"] != "ok"
        self.tokens += line.get("tokens_read") or line.get("tokens") or 0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(time.perf_counter() - self.started, 1e-9)


def run(worker_class: type, job: Job, items: Iterable[str], out: Path, jobs: int | None = None, threads: int | None = None,
        resume: bool = False, use_ray: bool = False, address: str | None = None,
        on_line: Callable[[dict, Progress], None] | None = None) -> Progress:
    """The whole batch: find the documents, skip finished ones when resuming, write each line as it comes.
    `worker_class(job, threads)` loads the model once; its `run(path)` gives a document's line
    (famcli.batch.worker.Worker runs the commands users name)."""
    from famcli.common.outputs import check_writable

    documents = [str(p) for p in find_documents(items)]
    if out.is_symlink():
        raise UserError(f"{out} is a symbolic link: name the file itself as --out")
    check_writable(out, "output")
    if out.exists() and not resume:
        raise UserError(f"{out} exists: pass --resume to continue that batch, or choose another --out")
    done = finished(out) if resume else set()
    todo = [d for d in documents if d not in done]
    progress = Progress(total=len(todo))
    if not todo:
        return progress
    if use_ray or address:
        lines = run_ray(worker_class, job, todo, jobs, threads, address)
    else:
        workers, each = plan_workers(jobs, len(todo))
        lines = run_local(worker_class, job, todo, workers, threads or each)
    with out.open("a", encoding="utf-8") as sink:
        try:
            for line in lines:
                sink.write(json.dumps(line, default=str) + "\n")
                sink.flush()
                progress.add(line)
                if on_line:
                    on_line(line, progress)
        except Interrupted as stop:  # the document being summarized when Ctrl-C came: what it had, marked partial
            sink.write(json.dumps(stop.result, default=str) + "\n")
            raise stop.cause from None
    return progress

