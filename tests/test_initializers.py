"""The LAPACK-free orthogonal initialiser against jax's own (QR by LAPACK)."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from opsutil import TINY_REAL

from harlax.initializers import orthogonal
from harlax.train import make_train, seed_keys


@pytest.mark.parametrize("shape", [(8, 8), (18, 64), (64, 5), (64, 1), (3, 4, 6)])
@pytest.mark.parametrize("scale", [1.0, float(np.sqrt(2.0)), 0.01])
def test_same_samples_as_jax_orthogonal(shape, scale):
    key = jax.random.PRNGKey(sum(shape))
    ours = orthogonal(scale)(key, shape)
    reference = jax.nn.initializers.orthogonal(scale)(key, shape)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=2e-5 * scale + 1e-7)


def test_columns_are_orthonormal_for_a_wide_layer():
    w = orthogonal()(jax.random.PRNGKey(0), (256, 1024))
    np.testing.assert_allclose(w @ w.T, np.eye(256), atol=5e-5)


def test_many_independent_batched_initialisations_in_one_program_finish():
    """The program shape that deadlocked with LAPACK's QR on 2 CPU threads: several
    independent vmapped initialisations in one jitted function."""
    init = orthogonal()

    @jax.jit
    def many(key):
        keys = jax.random.split(key, 4)
        return [jax.vmap(lambda k: init(k, (64, 64)))(jax.random.split(k, 8)) for k in keys]

    for i in range(50):
        out = jax.block_until_ready(many(jax.random.PRNGKey(i)))
    assert all(bool(jnp.isfinite(x).all()) for x in out)


def test_a_recurrent_program_initialises_without_lapack_calls():
    """Every network of a vmapped multi-seed program, the GRU's recurrent kernels
    included (flax's GRUCell draws them with LAPACK's QR: 13 calls here before
    `nets.GRU`), initialises in plain XLA."""
    config = TINY_REAL.replace(recurrent=True, num_seeds=3)
    program = make_train(config)
    hlo = jax.jit(jax.vmap(program.init)).lower(seed_keys(config)).compile().as_text()
    targets = re.findall(r'custom_call_target="([^"]*)"', hlo)
    assert not [t for t in targets if "lapack" in t.lower()], targets
