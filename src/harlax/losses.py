"""Pure per-sample loss functions of the on-policy learner (no reduction, no config).

Every function broadcasts over leading axes and returns one loss per sample, so that the
caller chooses the reduction (a plain or a masked mean).
"""

from __future__ import annotations

import jax.numpy as jnp

from harlax.types import Array


def regression_loss(error: Array, kind: str, huber_delta: float) -> Array:
    """`[...]` half squared error (`"mse"`), or the Huber loss (`"huber"`): `e^2 / 2` within
    `huber_delta` of zero and `delta (|e| - delta / 2)` beyond (HARL's `huber_loss`)."""
    if kind == "mse":
        return 0.5 * error**2
    if kind == "huber":
        abs_error = jnp.abs(error)
        return jnp.where(
            abs_error <= huber_delta,
            0.5 * error**2,
            huber_delta * (abs_error - 0.5 * huber_delta),
        )
    raise ValueError(f"unknown regression loss {kind!r}; use 'mse' or 'huber'")


def clipped_value_loss(
    value: Array,
    target: Array,
    old_value: Array,
    clip_eps: float,
    kind: str = "mse",
    huber_delta: float = 10.0,
) -> Array:
    """`[...]` value loss of `value` against `target`; with `clip_eps > 0` the larger of the
    loss of `value` and of `old_value + clip(value - old_value, -eps, eps)` (PPO's value
    clipping, as MAPPO and HARL do it)."""
    loss = regression_loss(value - target, kind, huber_delta)
    if clip_eps > 0:
        clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
        loss = jnp.maximum(loss, regression_loss(clipped - target, kind, huber_delta))
    return loss


def clipped_surrogate(log_ratio: Array, advantage: Array, clip_eps: float) -> Array:
    """`[...]` PPO's clipped surrogate objective per sample (to be maximised):
    `min(r A, clip(r, 1 - eps, 1 + eps) A)` with `r = exp(log_ratio)`."""
    ratio = jnp.exp(log_ratio)
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return jnp.minimum(ratio * advantage, clipped * advantage)


def clipped(log_ratio: Array, clip_eps: float) -> Array:
    """`[...]` bool: the ratio `exp(log_ratio)` lies outside `[1 - eps, 1 + eps]`."""
    return jnp.abs(jnp.exp(log_ratio) - 1.0) > clip_eps


def sample_kl(log_ratio: Array) -> Array:
    """`[...]` the per-sample estimate `(r - 1) - log r` of KL(old || new), `r` the ratio
    new / old (unbiased, non-negative)."""
    return jnp.exp(log_ratio) - 1.0 - log_ratio
