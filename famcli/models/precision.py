"""Which precision `--dtype auto` reads in on a CPU: fp32, bf16 or int8 (famcli.core.quant), whichever is fastest
here among those that keep the model's quality (docs/results.md, "What `auto` picks").

CPU flags do not tell: bf16 is 5x fp32 with AMX and 0.12x on AVX2, and int8 and bf16 read alike on AVX-512
BF16 without AMX. So the four layer products of one block are timed once per CPU, torch version, thread count
and instruction-set caps (two probes, ~0.4 s) and the timings are cached; the most exact precision stays unless a less
exact one is MARGIN times faster.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path

import torch

from famcli.common.outputs import atomic

# The default model's four layer products (q/k/v fused, attention output, gate/up fused, down) as
# (input, output) features, at one block's rows: what a read spends most of its time in.
PROBE_SHAPES = ((576, 960), (576, 576), (576, 3072), (1536, 576))
PROBE_ROWS = 256
EXACTNESS = ("fp32", "bf16", "int8")  # most exact first: next-token loss +0.02% (bf16), +0.84-0.92% (int8) vs fp32
MARGIN = 1.1  # a less exact precision is chosen only when its products are at least this much faster


def probe(candidates: tuple[str, ...], repeats: int = 6) -> dict[str, float]:
    """Milliseconds per block of the four layer products for each candidate precision ("fp32", "bf16",
    "int8") on this CPU, at the thread count torch uses; the candidates are timed in turn, best of `repeats`.
    A reduced precision whose kernels fail here is left out (it is then no candidate; `--dtype` naming it
    still reports the failure)."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(torch.randn(PROBE_ROWS, k, generator=gen), torch.randn(n, k, generator=gen) * 0.05)
              for k, n in PROBE_SHAPES]
    runs = {}  # name -> [(product, its arguments)]
    for name in candidates:
        try:
            if name == "int8":
                from famcli.core.quant import Int8Linear

                runs[name] = [(Int8Linear(w, None), (x,)) for x, w in shapes]
            else:
                dt = torch.float32 if name == "fp32" else torch.bfloat16
                runs[name] = [(torch.nn.functional.linear, (x.to(dt), w.to(dt))) for x, w in shapes]
            with torch.no_grad():
                for f, args in runs[name]:
                    f(*args)
        except RuntimeError:
            if name == "fp32":
                raise
            runs.pop(name, None)
    best = {name: float("inf") for name in runs}
    with torch.no_grad():
        for r in range(repeats + 1):
            for name in runs:
                t0 = time.perf_counter()
                for f, args in runs[name]:
                    f(*args)
                if r:  # the first round warms the kernels up
                    best[name] = min(best[name], (time.perf_counter() - t0) * 1e3)
    return best


def choose(times: dict[str, float]) -> str:
    """The most exact precision unless a less exact one's products are MARGIN times faster than it."""
    ranked = [name for name in EXACTNESS if name in times]
    choice = ranked[0]
    for name in ranked[1:]:
        if times[choice] >= MARGIN * times[name]:
            choice = name
    return choice


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:  # not Linux
        return []


def cpu_supports_bf16() -> bool:
    flags = next((line for line in _cpuinfo() if line.startswith("flags")), "")
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_precision(reading: bool = True) -> str:
    """What `--dtype auto` reads in on this CPU: "fp32", "bf16" or "int8" (int8 reads, answers are decoded in
    fp32). Every candidate keeps next-token loss within 1% of fp32 (bf16 +0.02%, int8 +0.84-0.92%); bf16 is a
    candidate only with bf16 instructions, int8 only for reading and with torch's quantised kernels. Which is
    fastest differs by CPU (bf16 wins with AMX, int8 on AVX2, they are close on AVX-512 BF16 without AMX), so
    the layer products are timed once per CPU, torch version and thread count (~0.4 s) and the choice is
    cached; a less exact precision must be MARGIN times faster to be chosen (`choose`)."""
    return choose(precision_timings(reading))


def precision_timings(reading: bool = True) -> dict[str, float]:
    """Milliseconds per block of the layer products for each precision `auto` may pick on this CPU (only
    "fp32", untimed, when it is the one candidate); probed twice (`probe`) and cached when both probes choose
    alike, then read from the cache."""
    from famcli.core.quant import supported

    candidates = ("fp32",) + (("bf16",) if cpu_supports_bf16() else ()) + \
        (("int8",) if reading and supported() else ())
    if len(candidates) == 1:
        return {"fp32": None}
    cache = precision_file(candidates)
    try:
        stored = json.loads(cache.read_text())
        if stored["candidates"] == list(candidates):
            return stored["ms"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    times = probe(candidates)
    again = probe(candidates)  # a probe disturbed by other work must not decide for good
    if choose(again) != choose(times):
        return again  # not kept: the next start probes again
    times = {name: min(times[name], again[name]) for name in times}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic(cache) as tmp:
            tmp.write_text(json.dumps({"candidates": candidates, "ms": times, "choice": choose(times)}, indent=1))
    except OSError:  # a cache that cannot be written only costs the probe again
        pass
    return times


def precision_file(candidates: tuple[str, ...]) -> Path:
    """Where the precision probe's timings for this CPU, torch and thread count are kept."""
    from famcli.common.cache import cache_root
    from famcli.core.quant import engine

    cpu = [line for line in _cpuinfo() if line.startswith(("model name", "flags"))][:2] or [platform.processor()]
    stamp = f"{cpu}|{torch.__version__}|{torch.get_num_threads()}|{candidates}|{PROBE_SHAPES}|{_isa_env()}|{engine()}"
    return cache_root() / "precision" / f"{hashlib.sha256(stamp.encode()).hexdigest()[:20]}.json"


def _isa_env() -> str:
    """Variables that cap the instruction sets torch's kernels use (they change which precision is fastest)."""
    names = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
             "FBGEMM_ENABLE_INSTRUCTIONS")
    return ",".join(f"{n}={os.environ.get(n, '')}" for n in names)
