"""Test-suite settings.

* Deterministic hypothesis runs: CI never draws a new case.
* Cheap XLA compilation (`JAX_DISABLE_MOST_OPTIMIZATIONS`): most of the suite's time is
  compiling tiny training programs, and no test measures speed. Set before jax is
  imported, and inherited by the tests' subprocesses.
"""

import os

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "true")

from hypothesis import settings  # noqa: E402

settings.register_profile(
    "harlax", derandomize=True, deadline=None, max_examples=25, print_blob=True
)
settings.load_profile("harlax")
