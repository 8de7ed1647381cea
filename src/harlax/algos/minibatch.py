"""Epochs of minibatch gradient steps over a batch whose leaves are `[K, T, N, ...]`."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from harlax.types import Array, PyTree

BATCH_AXIS = 2  # leaves are [K agents, T time, N sequences, ...]


def flatten_time(batch: PyTree) -> PyTree:
    """`[K, T, N, ...]` -> `[K, 1, T*N, ...]`: independent samples for feed-forward nets."""
    return jax.tree.map(
        lambda x: x.reshape((x.shape[0], 1, x.shape[1] * x.shape[2]) + x.shape[3:]), batch
    )


def split_minibatches(key: Array, batch: PyTree, num_minibatches: int) -> PyTree:
    """Shuffle along N and split: leaves become `[M, K, T, N / M, ...]`."""
    n = jax.tree.leaves(batch)[0].shape[BATCH_AXIS]
    order = jax.random.permutation(key, n)

    def split(x: Array) -> Array:
        x = jnp.take(x, order, axis=BATCH_AXIS)
        x = x.reshape(x.shape[:2] + (num_minibatches, n // num_minibatches) + x.shape[3:])
        return jnp.moveaxis(x, BATCH_AXIS, 0)

    return jax.tree.map(split, batch)


def minibatch_epochs(
    key: Array,
    params: PyTree,
    opt_state: PyTree,
    batch: PyTree,
    loss_fn: Callable[[PyTree, PyTree], tuple[Array, dict]],
    tx: optax.GradientTransformation,
    num_epochs: int,
    num_minibatches: int,
) -> tuple[PyTree, PyTree, dict]:
    """Run `num_epochs` passes of `num_minibatches` optimiser steps; metrics are means."""

    def sgd_step(carry, minibatch):
        params, opt_state = carry
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, minibatch)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), {"loss": loss, "grad_norm": optax.global_norm(grads), **aux}

    def epoch(carry, epoch_key):
        minibatches = split_minibatches(epoch_key, batch, num_minibatches)
        return jax.lax.scan(sgd_step, carry, minibatches)

    (params, opt_state), metrics = jax.lax.scan(
        epoch, (params, opt_state), jax.random.split(key, num_epochs)
    )
    return params, opt_state, jax.tree.map(jnp.mean, metrics)
