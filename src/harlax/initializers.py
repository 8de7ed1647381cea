"""Parameter initialisers that compile to plain XLA operations (no LAPACK custom calls).

`orthogonal(scale)` draws the same matrix as `jax.nn.initializers.orthogonal(scale)` for
the same key: a Gaussian matrix's QR factor with the signs of R's diagonal made positive
(the Haar-distributed orthogonal matrix). It computes that factor by Gram-Schmidt
instead of LAPACK's QR. Why: on the CPU, XLA may run two independent LAPACK QR custom
calls at once (say the actor's and the critic's initialisation), and each batched QR
waits for sub-tasks on the same intra-op thread pool; with as many pool threads as
cores (two here) both wait forever. Reproduced with jax 0.10.2: a jitted function with
four independent vmapped `orthogonal` initialisations hangs within seconds on 2 cores.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from harlax.types import Array


def gram_schmidt(a: Array) -> Array:
    """Q factor `[m, n]` (m >= n) of `a` with a positive diagonal of R.

    Modified Gram-Schmidt with one re-orthogonalisation pass per column, which keeps
    `Q^T Q = I` to float32 precision for the square and tall matrices of a network.
    """
    m, n = a.shape

    def column(j, q):
        v = a[:, j]
        for _ in range(2):  # "twice is enough" (Kahan / Parlett)
            v = v - q @ (q.T @ v)
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, n, column, jnp.zeros((m, n), a.dtype))


def orthogonal(scale: float = 1.0, column_axis: int = -1):
    """Orthogonal initialiser with the signature and samples of
    `jax.nn.initializers.orthogonal`."""

    def init(key: Array, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
        if len(shape) < 2:
            raise ValueError("orthogonal initialisation needs a shape of rank >= 2")
        n_rows, n_cols = math.prod(shape) // shape[column_axis], shape[column_axis]
        matrix_shape = (n_cols, n_rows) if n_rows < n_cols else (n_rows, n_cols)
        q = gram_schmidt(jax.random.normal(key, matrix_shape, dtype))
        if n_rows < n_cols:
            q = q.T
        q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (shape[column_axis],))
        return scale * jnp.moveaxis(q, -1, column_axis).astype(dtype)

    return init
