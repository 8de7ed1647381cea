"""The variance of a gradient estimate across minibatches (a training diagnostic)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from harlax.algos.minibatch import split_minibatches
from harlax.types import Array, PyTree


def minibatch_gradient_variance(
    key: Array,
    params: PyTree,
    batch: PyTree,
    loss_fn: Callable[[PyTree, PyTree], Array],
    num_splits: int,
) -> Array:
    """`[]` trace of the covariance of `grad loss_fn` over `num_splits` random minibatches.

    The batch (leaves `[K, T, N, ...]`) is shuffled along N and split as for training;
    returns `mean_m ||g_m - mean(g)||^2` with the sum over all parameters (unbiased
    across the M minibatches: divided by M - 1).
    """
    minibatches = split_minibatches(key, batch, num_splits)
    grads = jax.vmap(jax.grad(loss_fn), in_axes=(None, 0))(params, minibatches)
    flat = jax.vmap(lambda g: ravel_pytree(g)[0])(grads)  # [M, P]
    deviation = flat - jnp.mean(flat, axis=0)
    return jnp.sum(deviation**2) / max(num_splits - 1, 1)
