"""How harlax compiles its programs: `jit` is `jax.jit` with harlax's XLA options.

On the CPU, XLA hands dots and reductions to YNNPACK by default. YNNPACK's reductions
are slow on the small axes of RL programs (a log-softmax over 5 actions: a `[6144, 5]`
reduce took about 0.5 ms; layer norms over 128 features), so harlax keeps YNNPACK for dots
only and XLA's own emitters do the reductions. Measured on the 2-core CPU VM, one update
(`benchmarks/update_time.py`): HAPPO at HARL's settings 369 -> 258 ms, HATRPO 885 -> 432
ms, IPPO at JaxMARL's 6% faster; recurrent MAPPO at 128 environments 7% slower.
Recurrent programs (`jit(..., recurrent=True)`) therefore compile without YNNPACK
(`RECURRENT_CPU_OPTIONS`): XLA's own dots ran a recurrent MAPPO chunk at JaxMARL's
settings 1% / 4% / 12% faster at 16 / 64 / 128 environments (paired, in one process),
while the feed-forward programs were level (IPPO at 16 / 64 / 256 environments,
HAPPO) or slower (HATRPO 3%) without it. The GRU's small in-loop dots are where it
shows: at 96 sequences YNNPACK's `[96, 128] @ [128, 384]` took about 0.14 ms per step in
the update against 0.09 ms alone, while the actor's and the critic's loops share the
two threads.
Where the installed jaxlib does not know an option, or off the CPU, nothing is set.

Importing this module also lowers JAX's random-number hash on the CPU as straight-line
code instead of a rolled loop (`harlax.threefry`): the same bits in one fused kernel.

`jit_once` compiles a program that runs once per run (the learner's `init`) with XLA's
cheap settings (`ONCE_OPTIONS`, what `JAX_DISABLE_MOST_OPTIMIZATIONS` sets): its run time
is milliseconds, but at full optimisation its compilation took 3.5-5.7 s of the 2-core
VM's start-up (parameter initialisers, environment resets), 1.5-3.2 s with these settings.
Its results can differ from a fully optimised build's in the last bits of float32
(orthogonal initialisers: up to 4e-6); every harlax entry point compiles `init` this way,
so a config and seed still give the same numbers.

`enable_compilation_cache` keeps compiled programs on disk (JAX's persistent cache), so a
later process that builds the same program loads it instead of compiling it. The
command line turns it on (`HARLAX_COMPILATION_CACHE`); the Python API leaves JAX's
settings to the caller.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import jax

from harlax import threefry

T = TypeVar("T")

threefry.register_cpu_lowering()

CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}
RECURRENT_CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}  # no YNNPACK at all
ONCE_OPTIONS = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _known(options: dict) -> bool:
    """Whether this jaxlib compiles a program with `options`."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=options).lower(1.0).compile()
    except Exception:  # an older or newer jaxlib without these options
        return False
    return True


@functools.cache
def compiler_options(recurrent: bool = False) -> dict[str, str]:
    """The XLA options harlax compiles with on this machine's default backend, for a
    feed-forward or a `recurrent` program."""
    options = RECURRENT_CPU_OPTIONS if recurrent else CPU_OPTIONS
    if jax.default_backend() != "cpu" or not _known(options):
        return {}
    return dict(options)


@functools.cache
def once_options() -> dict[str, Any]:
    """`compiler_options()` plus `ONCE_OPTIONS` where this jaxlib knows them."""
    options = dict(compiler_options(), **ONCE_OPTIONS)
    return options if _known(options) else compiler_options()


def jit(fn: Callable, *, recurrent: bool = False, **kwargs: Any):
    """`jax.jit(fn, **kwargs)` compiled with `compiler_options(recurrent)`; `recurrent`
    for a training program whose nets are recurrent (`Config.recurrent`)."""
    return jax.jit(fn, compiler_options=compiler_options(recurrent), **kwargs)


def jit_once(fn: Callable, **kwargs: Any):
    """`jax.jit(fn, **kwargs)` for a program that runs once: cheap to compile
    (`once_options()`)."""
    return jax.jit(fn, compiler_options=once_options(), **kwargs)


def compile_concurrently(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run compilation jobs (say `lambda: f.lower(x).compile()`) on a thread each; their
    results in order. A job's error is raised here.

    Why threads: tracing and lowering hold Python's lock, but XLA compiles outside it,
    so one program's compilation overlaps the next one's tracing. On the 2-core VM the
    default `harlax train` compiles its `init` while its chunk is traced and compiled.
    """
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() for future in futures]


CACHE_VARIABLE = "HARLAX_COMPILATION_CACHE"  # a directory, or "off"


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/harlax/xla` (`~/.cache/harlax/xla` where XDG_CACHE_HOME is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "harlax" / "xla"


def enable_compilation_cache(directory: str | Path | None = None) -> Path | None:
    """Keep compiled programs in `directory` (JAX's persistent compilation cache): a later
    process that builds the same program (same config up to its output fields, the same
    jax and machine) loads the executable instead of compiling it. On the 2-core VM the
    default run's compile phase went from about 11 s to 2.5 s (what is left is tracing).

    `directory` defaults to `$HARLAX_COMPILATION_CACHE`, else `default_cache_dir()`; the
    value "off" turns nothing on. Where JAX's cache directory is set already (say by
    `JAX_COMPILATION_CACHE_DIR`), that one is kept. Returns the directory in use, or None.
    """
    if jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    chosen = str(directory) if directory is not None else os.environ.get(CACHE_VARIABLE, "")
    if chosen.strip().lower() == "off":
        return None
    path = Path(chosen) if chosen.strip() else default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    return path
