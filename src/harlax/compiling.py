"""How harlax compiles its programs: `jit` is `jax.jit` with harlax's XLA options.

On the CPU, XLA hands dots and reductions to YNNPACK by default. YNNPACK's reductions
are slow on the small axes of RL programs (a log-softmax over 5 actions: a `[6144, 5]`
reduce took about 0.5 ms; layer norms over 128 features), so harlax keeps YNNPACK for dots
only and XLA's own emitters do the reductions. Measured on the 2-core CPU VM, one update
(`benchmarks/update_time.py`): HAPPO at HARL's settings 369 -> 258 ms, HATRPO 885 -> 432
ms, IPPO at JaxMARL's 6% faster; recurrent MAPPO at 128 environments 7% slower.
Where the installed jaxlib does not know the option, or off the CPU, nothing is set.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}


@functools.cache
def compiler_options() -> dict[str, str]:
    """The XLA options harlax compiles with on this machine's default backend."""
    if jax.default_backend() != "cpu":
        return {}
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_OPTIONS).lower(1.0).compile()
    except Exception:  # an older or newer jaxlib without this option: XLA's defaults
        return {}
    return dict(CPU_OPTIONS)


def jit(fn: Callable, **kwargs: Any):
    """`jax.jit(fn, **kwargs)` compiled with `compiler_options()`."""
    return jax.jit(fn, compiler_options=compiler_options(), **kwargs)
