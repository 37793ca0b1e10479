"""Throughput and memory measurements: the engine's reading speed per memory mode, the plain model, the
bf16 matrix-product roofline, and the attention kernel against scaled_dot_product_attention.

Everything is measured side by side in one process, so ratios are meaningful even where absolute times drift.
"""

from __future__ import annotations

import resource
import time

import torch
import torch.nn.functional as F

from famcli import kernels
from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(dtype=torch.bfloat16, device="cpu", n: int = 1024, repeats: int = 5) -> float:
    """The rate of an n x n x n matrix product: the ceiling the layer weights are bound by."""
    device = torch.device(device)
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n ** 3 * repeats / (time.perf_counter() - t0) / 1e9


def weight_gflop_per_token(model) -> float:
    """2 x the parameters of the layer weights (no embedding, no vocabulary projection) per token."""
    n = sum(p.numel() for p in model.model.layers.parameters() if p.dim() == 2)
    return 2 * n / 1e9


@torch.no_grad()
def weight_products_rate(model, rows: int, repeats: int = 5) -> float:
    """Tokens/s if reading cost only the layer weights' matrix products at the engine's own shapes (one block
    of `rows` tokens through every projection of every layer, nothing else): the ceiling for this model and
    block size, a little under the square-product roofline because the matrices are narrow."""
    param = next(model.parameters())
    weights = [p for p in model.model.layers.parameters() if p.dim() == 2]
    inputs = {w.shape[1]: torch.randn(rows, w.shape[1], dtype=param.dtype, device=param.device) for w in weights}

    def run():
        for w in weights:
            F.linear(inputs[w.shape[1]], w)

    return rows / _time(run, repeats, param.device)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float | None:
    """The resident memory of this process now (Linux /proc), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return None


class RssPeak:
    """The highest resident memory seen while the block runs (sampled every `interval` s in a thread).

    The process's lifetime peak (ru_maxrss) is set by loading the model, so it cannot show whether reading
    itself grows with the document; this can. `peak` is None where /proc is not available."""

    def __init__(self, interval: float = 0.005):
        self.interval, self.peak = interval, None

    def __enter__(self):
        import threading

        self._stop = threading.Event()
        self.peak = rss_mib()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        now = rss_mib()
        if now is not None and self.peak is not None:
            self.peak = max(self.peak, now)

    def _watch(self):
        while not self._stop.wait(self.interval):
            self._sample()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
        return False


def _passes(read, n_tokens: int, min_seconds: float) -> dict:
    """Read the document again until `min_seconds` have passed (at least once); the median pass is the result,
    so a short document is not one 2-second sample of this machine's noise."""
    seconds = []
    while not seconds or sum(seconds) < min_seconds:
        seconds.append(read())
    seconds.sort()
    median = seconds[len(seconds) // 2]
    return {"tokens": n_tokens, "seconds": median, "tokens_per_second": n_tokens / median, "passes": len(seconds)}


def engine_rate(model, config: MemoryConfig, ids: torch.Tensor, context_window: int | None = None,
                engine: Engine | None = None, min_seconds: float = 0.0, index=None) -> dict:
    """Tokens/s reading ids through the engine (logits only for the last token of each block); `index`, a
    callable, gives each pass a fresh recall index to build while reading."""
    engine = engine or Engine(model, config, context_window=context_window)
    device = next(model.parameters()).device
    engine.feed(engine.new_state(), ids[: config.block_size])  # warm-up: allocator, kernels
    out = {}

    def read() -> float:
        state = engine.new_state()
        state.recall = index() if index is not None else None
        _sync(device)
        t0 = time.perf_counter()
        engine.feed(state, ids)
        if state.recall is not None:
            state.recall.finish()
        _sync(device)
        out["state_bytes"] = state.nbytes() + (state.recall.nbytes() + len(state.recall.ids) * state.recall.ids.itemsize
                                               if state.recall is not None else 0)
        return time.perf_counter() - t0

    return {"mode": config.mode} | _passes(read, int(ids.numel()), min_seconds) | out


@torch.no_grad()
def hf_rate(model, ids: torch.Tensor, min_seconds: float = 0.0) -> dict:
    """The plain model in one forward pass (full attention), logits for the last token only."""
    device = next(model.parameters()).device
    model(ids[None, :64], logits_to_keep=1)

    def read() -> float:
        _sync(device)
        t0 = time.perf_counter()
        model(ids[None], logits_to_keep=1)
        _sync(device)
        return time.perf_counter() - t0

    return {"mode": "hf-full"} | _passes(read, int(ids.numel()), min_seconds)


def _time(fn, repeats: int, device) -> float:
    fn()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / repeats


def kernel_vs_sdpa(H=9, Hkv=3, D=64, block_size=1024, memory_segments=3, fam_length=64,
                   dtype=torch.bfloat16, device="cuda", repeats=50) -> dict:
    """One block step: the dispatched kernel vs SDPA over the same queries and keys (causal, no window)."""
    device = torch.device(device)
    S = fam_length + (memory_segments + 1) * block_size
    q = torch.randn(H, block_size, D, dtype=dtype, device=device)
    k = torch.randn(Hkv, S, D, dtype=dtype, device=device)
    v = torch.randn(Hkv, S, D, dtype=dtype, device=device)
    valid = torch.ones(S, dtype=torch.bool, device=device)
    base = S - block_size
    valid[base:] = False
    kk, vv = k.repeat_interleave(H // Hkv, 0), v.repeat_interleave(H // Hkv, 0)
    mask = torch.ones(block_size, S, dtype=torch.bool, device=device).tril(diagonal=base)
    ours = _time(lambda: kernels.block_attention(q, k, v, valid, base, 0, D ** -0.5), repeats, device)
    sdpa = _time(lambda: F.scaled_dot_product_attention(q[None], kk[None], vv[None], attn_mask=mask), repeats, device)
    flops = 4 * H * block_size * S * D
    return {"backend": kernels.backend_for(device.type), "queries": block_size, "keys": S, "dtype": str(dtype),
            "ours_ms": ours * 1e3, "sdpa_masked_ms": sdpa * 1e3, "ours_tflops": flops / ours / 1e12,
            "speedup_vs_sdpa": sdpa / ours}


def llama_cpp_rate(gguf_path: str, ids: list[int], threads: int) -> dict | None:
    """llama.cpp's prompt evaluation on the same GGUF and token ids, when llama-cpp-python is importable."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return None
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # installed but broken (e.g. built with --no-deps): say what is missing
        from famcli.models.loading import ModelError

        raise ModelError(f"llama-cpp-python is installed but cannot be imported: {exc}") from exc
    from famcli.measure.llamacpp import llama_cpp_model

    llm = llama_cpp_model(Llama, gguf_path, n_ctx=len(ids) + 8, n_threads=threads, n_batch=512)
    t0 = time.perf_counter()
    llm.eval(ids)
    seconds = time.perf_counter() - t0
    return {"mode": "llama.cpp", "tokens": len(ids), "seconds": seconds, "tokens_per_second": len(ids) / seconds}


def markdown_table(rows: list[dict], roofline: float, products: float | None = None) -> str:
    """One row per (engine, length): tokens/s, share of the roofline (and of the weight products at the model's
    shapes), ratio to full, peak memory."""
    full = {(r["tokens"], r.get("dtype")): r["tokens_per_second"] for r in rows if r["mode"].split()[0] == "full"}
    lines = ["| memory | tokens | tokens/s | of roofline | of weight products | vs full | peak RSS MiB "
             "| reading peak MiB | state MiB |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        base = _plain_rate(full, r["tokens"], r.get("dtype"))
        ratio = f"{r['tokens_per_second'] / base:.2f}x" if base and r["mode"].split()[0] != "full" else "-"
        state = f"{r['state_bytes'] / 2**20:.1f}" if r.get("state_bytes") else "-"
        rss = f"{r['peak_rss_mib']:.0f}" if r.get("peak_rss_mib") else "-"
        reading = f"{r['reading_peak_mib']:.0f}" if r.get("reading_peak_mib") else "-"
        share = f"{r['tokens_per_second'] / products:.0%}" if products else "-"
        lines.append(f"| {r['mode']} | {r['tokens']:,} | {r['tokens_per_second']:,.0f} | "
                     f"{r['tokens_per_second'] / roofline:.0%} | {share} | {ratio} | {rss} | {reading} | {state} |")
    return "\n".join(lines)


def _plain_rate(full: dict, tokens: int, dtype: str | None) -> float | None:
    """The plain model's rate to compare a row with: same length and precision; an int8 read against the fp32
    forward (the plain model has no int8 path)."""
    return full.get((tokens, dtype)) or (full.get((tokens, "fp32")) if dtype == "int8" else None)


def plot_rates(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for mode in dict.fromkeys(r["mode"] for r in rows):
        mine = [r for r in rows if r["mode"] == mode]
        xs = [r["tokens"] for r in mine]
        left.plot(xs, [r["tokens_per_second"] for r in mine], marker="o", label=mode)
        key = "reading_peak_mib" if all(r.get("reading_peak_mib") for r in mine) else "peak_rss_mib"
        if all(r.get(key) for r in mine):
            right.plot(xs, [r[key] for r in mine], marker="o", label=mode)
    for ax, label in ((left, "tokens/s"), (right, "peak resident memory while reading (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("document length (tokens)")
        ax.set_ylabel(label)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cell(mode: str, tokens: int, model=None, sizes: dict | None = None, dtype: str = "auto", device: str = "auto",
         seed: int = 0, adapter: str = "auto", min_seconds: float = 0.0) -> dict:
    """One measurement (`famcli bench-cell`, run in a fresh process so its peak resident memory is its own):
    `full` is the plain model in one forward pass, `llama.cpp` the same GGUF through llama-cpp-python,
    MODE[+recall|+index] famcli's engine (+recall: the index of a known question, +index: a saved one's)."""
    from famcli.common.errors import ConfigError
    from famcli.models.loading import ModelError, load_model

    loaded = load_model(model, dtype=dtype, device=device)
    ids = torch.randint(0, loaded.config.vocab_size, (tokens,), generator=torch.Generator().manual_seed(seed))
    baseline = peak_rss_mib()
    with torch.no_grad(), RssPeak() as reading:
        if mode == "full":
            if tokens > loaded.context_window:
                raise ConfigError(f"full cannot read {tokens:,} tokens (window {loaded.context_window:,})")
            row = hf_rate(loaded.model, ids.to(loaded.device), min_seconds) | {"mode": "full"}
        elif mode == "llama.cpp":
            row = llama_cpp_rate(loaded.source, ids.tolist(), torch.get_num_threads())
            if row is None:
                raise ModelError("llama-cpp-python is not installed")
        else:
            row = _engine_cell(loaded, mode, ids, sizes or {}, adapter, min_seconds)
    return row | {"peak_rss_mib": peak_rss_mib(), "rss_after_load_mib": baseline, "reading_peak_mib": reading.peak}


def _engine_cell(loaded, mode: str, ids: torch.Tensor, sizes: dict, adapter: str, min_seconds: float) -> dict:
    from famcli.jobs.session import Session
    from famcli.models.runtime import prepare

    base, _, recall = mode.partition("+")
    loaded, config = prepare(loaded, base, adapter, **sizes)
    session = Session(loaded, config)
    index = {"": None, "recall": lambda: session.lookup.new_index("What is the pass key?"),
             "index": session.lookup.new_index}[recall]
    row = engine_rate(loaded.model, config, ids.to(loaded.device), engine=session.engine,
                      min_seconds=min_seconds, index=index)
    return row | {"mode": mode}


def _named(precision: str, device: str) -> str:
    """A --dtype as a row label; auto says what it resolved to here ("auto (int8)")."""
    if precision != "auto":
        return precision
    from famcli.models.loading import DTYPES, pick_device, pick_dtype

    dtype, int8 = pick_dtype("auto", pick_device(device))
    return f"auto ({'int8' if int8 else next(name for name, d in DTYPES.items() if d == dtype)})"


def run(lengths: list[int], modes: list[str], dtypes: list[str], model=None, sizes: dict | None = None,
        device: str = "auto", seed: int = 0, adapter: str = "auto", min_seconds: float = 10.0, note=print) -> dict:
    """Every (mode, dtype, length) cell in its own process, next to the matmul roofline; the bench payload."""
    import itertools
    import json
    import subprocess

    from famcli.common.child import famcli_argv
    from famcli.models.loading import load_model

    loaded = load_model(model, dtype=dtypes[0], device=device)
    gflops = matmul_gflops(loaded.dtype, loaded.device)
    roofline = gflops / weight_gflop_per_token(loaded.model)
    products = weight_products_rate(loaded.model, (sizes or {}).get("block_size") or MemoryConfig().block_size)
    note(f"{loaded.dtype} matmul: {gflops:,.0f} GFLOP/s -> weights-only roofline {roofline:,.0f} tokens/s; "
         f"the layer weights' own products at block shape alone: {products:,.0f} tokens/s")
    source, window, dtype_used = loaded.source, loaded.context_window, loaded.dtype
    del loaded
    rows = []
    for mode, precision in itertools.product(modes, dtypes):
        if mode == "llama.cpp" and precision != dtypes[0]:
            continue  # llama.cpp runs the GGUF's own precision
        if mode == "full" and precision == "int8":  # the plain model's one forward has no int8 path
            if "fp32" in dtypes:
                note("full int8 would time the fp32 forward again: the fp32 row stands for it")
                continue
            precision = "fp32"
        label = mode if len(dtypes) == 1 or mode == "llama.cpp" else f"{mode} {_named(precision, device)}"
        for n in lengths:
            if mode in ("full", "llama.cpp") and n > window:
                note(f"{label} skips {n:,} tokens (past the {window:,}-token window)")
                continue
            args = famcli_argv("bench-cell", "--mode", mode, "--tokens", str(n),
                    "--dtype", precision, "--device", device, "--seed", str(seed), "--adapter", adapter,
                    "--min-seconds", str(min_seconds))
            for flag, value in (("--model", model), *((f"--{k.replace('_', '-')}", v) for k, v in (sizes or {}).items())):
                if value is not None:
                    args += [flag, str(value)]
            note(f"timing {label} at {n:,} tokens ...")
            done = subprocess.run(args, capture_output=True, text=True)
            if done.returncode != 0:
                note(f"  {label} at {n:,} tokens: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}")
                continue
            rows.append(json.loads(done.stdout) | {"mode": label, "dtype": precision})
    return {"command": "bench", "model": source, "dtype": str(dtype_used).removeprefix("torch."),
            "matmul_gflops": gflops, "roofline_tokens_per_second": roofline,
            "weight_products_tokens_per_second": products, "results": rows}


def describe(payload: dict, on_cpu: bool) -> str:
    """The benchmark as text: the table, the roofline, and on a CPU what `--dtype auto` chooses here (the
    choice and its timings are added to `payload`)."""
    roofline, products = payload["roofline_tokens_per_second"], payload["weight_products_tokens_per_second"]
    text = markdown_table(payload["results"], roofline, products) + \
        f"\n\nroofline (weights only, square {payload['dtype']} product rate): {roofline:,.0f} tokens/s; " \
        f"weight products at block shape alone: {products:,.0f} tokens/s"
    if on_cpu:
        from famcli.models.precision import choose, precision_timings

        times = precision_timings()
        payload["auto"] = {"choice": choose(times), "layer_products_ms": times}
        if len(times) > 1:
            text += f"\n`--dtype auto` on this CPU: {payload['auto']['choice']} (the layer products of one block: " + \
                ", ".join(f"{k} {v:.2f} ms" for k, v in times.items()) + ")"
    return text
