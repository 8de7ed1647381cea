"""Test-suite settings.

* Deterministic hypothesis runs: CI never draws a new case.
* Cheap XLA compilation (`JAX_DISABLE_MOST_OPTIMIZATIONS`): most of the suite's time is
  compiling tiny training programs, and no test measures speed. Set before jax is
  imported, and inherited by the tests' subprocesses. The command line's compilation
  cache is off (`HARLAX_COMPILATION_CACHE=off`).
* `tiny`: the one tiny config of the tests, `tiny(**overrides)` (opsutil.tiny_config; a
  module-level constant imports it from opsutil instead).
"""

import os

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "true")
# The command line's on-disk compilation cache stays off (tests write nothing to ~/.cache;
# test_compiling turns it on in a subprocess of its own).
os.environ["HARLAX_COMPILATION_CACHE"] = "off"

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile(
    "harlax", derandomize=True, deadline=None, max_examples=25, print_blob=True
)
settings.load_profile("harlax")


@pytest.fixture
def tiny():
    """`tiny(**overrides) -> harlax.Config`: the tests' one tiny on-policy config."""
    from opsutil import tiny_config  # here, not at the top: jax after the settings above

    return tiny_config
