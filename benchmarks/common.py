"""Shared helpers of the benchmark scripts: machine description, CSV with a commented
header, timing of a compiled training program, XLA cost analysis, matmul peak."""

from __future__ import annotations

import csv
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """One line naming the machine a figure was measured on."""
    devices = jax.devices()
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (
        f"{platform.node()} | {cpu} | {os.cpu_count()} cores | jax {jax.__version__} | "
        f"{devices[0].platform} x{len(devices)} ({devices[0].device_kind})"
    )


def write_csv(name: str, rows: Sequence[dict[str, Any]], notes: Sequence[str] = ()) -> Path:
    """Write `rows` to benchmarks/results/<name>.csv with `#` lines for machine and notes."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.csv"
    with path.open("w", newline="") as f:
        f.write(f"# machine: {machine()}\n")
        f.write(f"# date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
        for note in notes:
            f.write(f"# {note}\n")
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )
    return path


def block(tree: Any) -> None:
    jax.block_until_ready(tree)


def flops_of(fn, *args) -> float:
    """FLOPs of one call of `fn(*args)`, from XLA's cost analysis of the program lowered
    with every `lax.scan` unrolled.

    Why unrolled: XLA's cost analysis counts a loop body once whatever its trip count
    (checked: a 100-step scan of a matmul reports the FLOPs of one step), and a training
    program is scans within scans. `lax.while_loop`s (conjugate gradient, line search)
    are still counted once, so trust-region programs are undercounted.
    """
    original = jax.lax.scan

    def unrolled(*a, **k):
        k["unroll"] = True
        return original(*a, **k)

    # A fresh wrapper: jit would otherwise reuse a trace of `fn` made without the patch.
    with mock.patch.object(jax.lax, "scan", unrolled):
        cost = jax.jit(lambda *a: fn(*a)).lower(*args).cost_analysis()
    if isinstance(cost, list):  # older jax returned one dict per device program
        cost = cost[0]
    return float(cost.get("flops", float("nan"))) if cost else float("nan")


def matmul_peak_flops(size: int = 1024, repeats: int = 20) -> float:
    """Achievable float32 FLOP/s of this machine on a large matmul (the ceiling that the
    training program's FLOP/s is compared against)."""
    a = jax.random.normal(jax.random.PRNGKey(0), (size, size), jnp.float32)
    b = jax.random.normal(jax.random.PRNGKey(1), (size, size), jnp.float32)
    mm = jax.jit(lambda x, y: x @ y)
    block(mm(a, b))
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        out = a
        for _ in range(repeats):
            out = mm(out, b) * 1e-3
        block(out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 * repeats / best


def compile_and_run_once(program) -> tuple[float, float]:
    """`(compile_s, run_s)` of a `TrainProgram` whose whole run is one chunk (as the peers
    run theirs: one scan): init and compile timed together, the way `harlax.train` starts
    (`compile_program`, `compile_concurrently`), then the run alone."""
    from harlax.compiling import compile_concurrently
    from harlax.train import compile_program, seed_keys

    start = time.perf_counter()
    init, run_chunk = compile_program(program)
    keys = seed_keys(program.config)
    like = jax.eval_shape(init, keys)
    init, run = compile_concurrently(
        [lambda: init.lower(keys).compile(), lambda: run_chunk.lower(like).compile()]
    )
    state = init(keys)
    block(state)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    state, metrics = run(state)
    block(metrics)
    return compile_s, time.perf_counter() - start


def time_program(init, run_chunk, keys, chunks: int) -> dict[str, float]:
    """Compile (timed separately), warm up one chunk, then time `chunks` chunks.

    `init`, `run_chunk`: un-jitted vmapped functions of a TrainProgram-like pair.
    Returns compile_s, seconds_per_chunk and flops_per_chunk (XLA cost analysis).
    """
    from harlax.compiling import jit, jit_once

    state = jit_once(init)(keys)
    block(state)
    start = time.perf_counter()
    compiled = jit(run_chunk, donate_argnums=0).lower(state).compile()
    compile_s = time.perf_counter() - start
    flops = flops_of(run_chunk, state)
    state, metrics = compiled(state)  # warm-up
    block(metrics)
    start = time.perf_counter()
    for _ in range(chunks):
        state, metrics = compiled(state)
    block(metrics)
    return {
        "compile_s": compile_s,
        "seconds_per_chunk": (time.perf_counter() - start) / chunks,
        "flops_per_chunk": flops,
    }


def write_table(
    name: str, header: Sequence[str], rows: Sequence[Sequence[Any]], settings: dict[str, Any]
) -> Path:
    """`write_csv` for rows given as sequences under `header`, settings as `#` lines."""
    return write_csv(
        name,
        [dict(zip(header, row, strict=True)) for row in rows],
        [f"{key}: {value}" for key, value in settings.items()],
    )


def print_row(row: dict[str, Any]) -> None:
    """One result row as `key=value` pairs on one line."""
    text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
    print(text, flush=True)


def t_interval(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of the 95% Student-t interval along `axis`."""
    n = values.shape[axis]
    mean = np.nanmean(values, axis=axis)
    if n < 2:
        return mean, np.full_like(mean, np.nan)
    sem = np.nanstd(values, axis=axis, ddof=1) / np.sqrt(n)
    return mean, stats.t.ppf(0.975, n - 1) * sem


def carry_forward(returns: np.ndarray) -> np.ndarray:
    """`[..., updates]` -> the return of the latest episode that ended at or before each
    update (NaN before the first). Long fixed-length episodes (MaMuJoCo, 1000 steps) end
    in one update of many, all seeds in the same one; without this a curve is mostly NaN."""
    index = np.where(np.isfinite(returns), np.arange(returns.shape[-1]), -1)
    index = np.maximum.accumulate(index, axis=-1)
    filled = np.take_along_axis(returns, np.maximum(index, 0), axis=-1)
    return np.where(index >= 0, filled, np.nan)


def smooth(curve: np.ndarray, width: int) -> np.ndarray:
    """Running mean over `width` updates along the last axis, ignoring NaNs."""
    if width <= 1:
        return curve
    out = np.empty_like(curve)
    for i in range(curve.shape[-1]):
        out[..., i] = np.nanmean(curve[..., max(0, i - width + 1) : i + 1], axis=-1)
    return out
