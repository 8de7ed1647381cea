"""harlax.compiling: the XLA options programs are compiled with, and their fallback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harlax import compiling


def _jaxlib_knows(options: dict) -> bool:
    try:
        jax.jit(lambda x: x - 1, compiler_options=options).lower(2.0).compile()
        return True
    except Exception:
        return False


def test_cpu_programs_keep_ynnpack_for_dots_only():
    """On the CPU the options are set wherever this jaxlib knows them (jax 0.10 does)."""
    assert jax.default_backend() == "cpu"
    known = _jaxlib_knows(compiling.CPU_OPTIONS)
    assert compiling.compiler_options() == (compiling.CPU_OPTIONS if known else {})
    if jax.__version__.startswith("0.10."):
        assert known
    f = lambda x: jax.nn.log_softmax(jnp.tanh(x @ x.T)).sum(-1)
    x = jax.random.normal(jax.random.PRNGKey(0), (64, 5))
    np.testing.assert_allclose(compiling.jit(f)(x), jax.jit(f)(x), rtol=1e-5, atol=1e-6)


def test_recurrent_programs_compile_their_dots_without_ynnpack():
    """Feed-forward programs hand their dots to YNNPACK, recurrent ones keep XLA's own; the
    numbers agree to float32 rounding."""
    known = _jaxlib_knows(compiling.RECURRENT_CPU_OPTIONS)
    expected = compiling.RECURRENT_CPU_OPTIONS if known else {}
    assert compiling.compiler_options(recurrent=True) == expected
    if not (known and _jaxlib_knows(compiling.CPU_OPTIONS)):
        return
    f = lambda x, w: jnp.tanh(x @ w).sum(-1)
    x = jax.random.normal(jax.random.PRNGKey(0), (96, 128))
    w = jax.random.normal(jax.random.PRNGKey(1), (128, 384))
    hlo = {
        recurrent: compiling.jit(f, recurrent=recurrent).lower(x, w).compile().as_text()
        for recurrent in (False, True)
    }
    assert "__ynn_fusion" in hlo[False]
    assert "__ynn_fusion" not in hlo[True]
    np.testing.assert_allclose(
        compiling.jit(f, recurrent=True)(x, w), compiling.jit(f)(x, w), rtol=1e-5, atol=1e-5
    )


def test_an_option_this_jaxlib_does_not_know_falls_back_to_xla_defaults(monkeypatch):
    monkeypatch.setattr(compiling, "CPU_OPTIONS", {"xla_cpu_no_such_option_anywhere": "1"})
    monkeypatch.setattr(compiling, "ONCE_OPTIONS", {"xla_no_such_option_either": True})
    compiling.compiler_options.cache_clear()
    compiling.once_options.cache_clear()
    try:
        assert compiling.compiler_options() == {}
        assert compiling.once_options() == {}
        assert float(compiling.jit(lambda x: x * 2.0)(3.0)) == 6.0
        assert float(compiling.jit_once(lambda x: x * 2.0)(3.0)) == 6.0
    finally:
        monkeypatch.undo()
        compiling.compiler_options.cache_clear()
        compiling.once_options.cache_clear()


def test_programs_that_run_once_compile_cheaply_and_compute_the_same():
    """`jit_once` adds XLA's cheap settings to the usual options; results agree to float32
    rounding (orthogonal initialisation: Gram-Schmidt)."""
    assert compiling.once_options() == dict(compiling.compiler_options(), **compiling.ONCE_OPTIONS)
    from harlax.initializers import orthogonal

    init = lambda key: orthogonal(1.4)(key, (48, 32))
    key = jax.random.PRNGKey(3)
    np.testing.assert_allclose(compiling.jit_once(init)(key), jax.jit(init)(key), atol=1e-5)


def test_compile_concurrently_returns_results_in_order_and_raises_a_jobs_error():
    fns = [jax.jit(lambda x, k=k: x * k) for k in range(3)]
    jobs = [lambda f=f: f.lower(1.0).compile() for f in fns]
    executables = compiling.compile_concurrently(jobs)
    assert [float(e(2.0)) for e in executables] == [0.0, 2.0, 4.0]

    def bad():
        raise ValueError("job failed")

    with pytest.raises(ValueError, match="job failed"):
        compiling.compile_concurrently([jobs[0], bad])


CACHE_SCRIPT = """
import sys
import jax
from harlax import compiling
first = compiling.enable_compilation_cache()
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
print(float(jax.jit(lambda x: (x * 3.0).sum())(jax.numpy.ones(4))))
print(first, compiling.enable_compilation_cache(sys.argv[1]))
"""


def test_compilation_cache_writes_programs_to_the_chosen_directory(tmp_path):
    """With `HARLAX_COMPILATION_CACHE=DIR` a compiled program lands in DIR, and a second
    call keeps the directory JAX already uses."""
    cache = tmp_path / "cache"
    env = dict(os.environ, HARLAX_COMPILATION_CACHE=str(cache))
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", CACHE_SCRIPT, str(tmp_path / "other")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    value, dirs = done.stdout.strip().splitlines()
    assert float(value) == 12.0
    assert dirs == f"{cache} {cache}"
    assert [p.name for p in cache.iterdir() if p.name.startswith("jit_")]
    assert not (tmp_path / "other").exists()


def test_compilation_cache_off_changes_nothing(monkeypatch):
    monkeypatch.setenv("HARLAX_COMPILATION_CACHE", "off")
    before = jax.config.jax_compilation_cache_dir  # None unless JAX's own variable is set
    result = compiling.enable_compilation_cache()
    assert result == (Path(before) if before else None)
    assert jax.config.jax_compilation_cache_dir == before
