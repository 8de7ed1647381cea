"""harlax.compiling: the XLA options programs are compiled with, and their fallback."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

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


def test_an_option_this_jaxlib_does_not_know_falls_back_to_xla_defaults(monkeypatch):
    monkeypatch.setattr(compiling, "CPU_OPTIONS", {"xla_cpu_no_such_option_anywhere": "1"})
    compiling.compiler_options.cache_clear()
    try:
        assert compiling.compiler_options() == {}
        assert float(compiling.jit(lambda x: x * 2.0)(3.0)) == 6.0
    finally:
        monkeypatch.undo()
        compiling.compiler_options.cache_clear()
