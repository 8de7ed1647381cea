"""The on-policy learner's training batches (agent-major: leaves `[K, T, N, ...]`, K the
agents a parameter set covers), how feed-forward nets see them, and its optimiser."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import optax

from harlax.algos.minibatch import flatten_time
from harlax.types import Array


class PolicyBatch(NamedTuple):
    """Actor training data; leaves `[K, T, N, ...]` (init_hidden `[K, 1, N, H]`)."""

    obs: Array  # [K, T, N, O]
    avail: Array  # [K, T, N, U]
    action: Array  # [K, T, N] or [K, T, N, U]
    old_log_prob: Array  # [K, T, N]
    advantage: Array  # [K, T, N]
    first: Array  # [K, T, N]
    init_hidden: Array  # [K, 1, N, H]
    active: Array | None = None  # [K, T, N] bool; None: every sample counts


class CriticBatch(NamedTuple):
    """Critic training data; leaves `[A, T, N, ...]` (init_hidden `[A, 1, N, H]`)."""

    x: Array  # [A, T, N, D]
    target: Array  # [A, T, N] (normalised scale if value_norm)
    old_value: Array  # [A, T, N]
    first: Array  # [A, T, N]
    init_hidden: Array  # [A, 1, N, H]
    own_action: Array | None = None  # [A, T, N] int: the head trained (discrete Q critic)
    active: Array | None = None  # [A, T, N] bool; None: every sample counts


def prepare(batch: NamedTuple, recurrent: bool) -> NamedTuple:
    """Feed-forward nets train on shuffled single steps: `[K, T, N]` -> `[K, 1, T*N]`."""
    if recurrent:
        return batch
    k, t, n = batch.first.shape
    return flatten_time(batch._replace(init_hidden=jnp.zeros((k, t, n, 0))))


def make_optimizer(lr: float, config, derived, steps_per_update: int):
    """Adam with gradient clipping, optionally with linear learning-rate decay to 0."""
    if config.anneal_lr:
        lr = optax.linear_schedule(lr, 0.0, derived.num_updates * steps_per_update)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr, eps=1e-5))
