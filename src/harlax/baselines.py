"""Baselines for multi-agent policy gradients with a centralised Q critic.

Kuba et al., "Settling the Variance of Multi-Agent Policy Gradients" (NeurIPS 2021).
Agent i's policy `pi_i(.|psi)` has network output `psi` (logits, or Gaussian mean and
std); the critic gives `Q(s, a^{-i}, a^i)`. The learner's signal is
`X^i = Q(s, a^{-i}, a^i) - b(s, a^{-i})` with one of the baselines

- `"ob"`: the optimal baseline, which minimises the variance of the estimator with
  respect to `psi`: `b* = E[Q ||d log pi / d psi||^2] / E[||d log pi / d psi||^2]`;
- `"coma"`: COMA's counterfactual baseline `b = E_{a^i ~ pi_i} Q(s, a^{-i}, a^i)`;
- `"none"`: vanilla MAPG, `b = 0`.

All functions are pure, act on the last axis and broadcast over leading axes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from harlax.choices import Q_BASELINES
from harlax.types import Array

# Below this total score weight the policy is numerically deterministic: fall back to pi.
_TINY_WEIGHT = 1e-30


# ------------------------------------------------------------------ softmax policies


def softmax_score_sq_norm(probs: Array) -> Array:
    """`[..., U]`: `||d log pi(a) / d logits||^2 = ||e_a - pi||^2` for every action a.

    Written as `(1 - pi(a))^2 + sum_{b != a} pi(b)^2`, with `1 - pi(a)` summed from the
    other actions, so no term cancels when `pi` is nearly deterministic.
    """
    u = probs.shape[-1]
    off_diagonal = 1.0 - jnp.eye(u, dtype=probs.dtype)
    rest = probs @ off_diagonal  # sum_{b != a} pi(b)
    rest_sq = (probs**2) @ off_diagonal
    return rest**2 + rest_sq


def softmax_ob_weights(probs: Array) -> Array:
    """`[..., U]` the distribution x(a) whose mean of Q is the optimal baseline:
    `x(a) = pi(a) (1 + ||pi||^2 - 2 pi(a)) / (1 - ||pi||^2)`.

    A (numerically) deterministic policy, where both sides vanish, gets `x = pi`; any
    baseline then gives the same (zero) gradient, and this choice stays finite.
    """
    weight = probs * softmax_score_sq_norm(probs)
    total = jnp.sum(weight, axis=-1, keepdims=True)
    ok = total > _TINY_WEIGHT
    return jnp.where(ok, weight / jnp.where(ok, total, 1.0), probs)


def discrete_baseline(kind: str, probs: Array, q: Array) -> Array:
    """`[...]` baseline `b(s, a^{-i})` from `probs [..., U]` and `q [..., U]` (Q of each of
    agent i's own actions, the others' actions fixed). Unavailable actions have probs 0."""
    if kind == "ob":
        return jnp.sum(softmax_ob_weights(probs) * q, axis=-1)
    if kind == "coma":
        return jnp.sum(probs * q, axis=-1)
    if kind == "none":
        return jnp.zeros(q.shape[:-1], q.dtype)
    raise ValueError(f"unknown baseline {kind!r}; use one of {list(Q_BASELINES)}")


def softmax_pg_variance(probs: Array, q: Array, baseline: Array) -> Array:
    """`[...]` exact variance (trace of the covariance) over `a ~ pi` of the estimator
    `(e_a - pi) (Q(a) - b)` of the gradient with respect to the logits."""
    u = probs.shape[-1]
    score = jnp.eye(u, dtype=probs.dtype) - probs[..., None, :]  # [..., a, logit]
    signal = q - baseline[..., None]
    second_moment = jnp.sum(probs * softmax_score_sq_norm(probs) * signal**2, axis=-1)
    mean = jnp.sum((probs * signal)[..., None] * score, axis=-2)
    return second_moment - jnp.sum(mean**2, axis=-1)


# ------------------------------------------------------------------ Gaussian policies


def gaussian_score_sq_norm(mean: Array, std: Array, action: Array, mask: Array) -> Array:
    """`[...]` squared norm of the score of a diagonal Gaussian with respect to its mean
    and std: `sum_d [z^2 + (z^2 - 1)^2] / std^2`, `z = (a - mean) / std`; padded
    dimensions (mask False) contribute nothing. Inputs broadcast; last axis is U."""
    z2 = ((action - mean) / std) ** 2
    per_dim = (z2 + (z2 - 1.0) ** 2) / std**2
    return jnp.sum(jnp.where(mask, per_dim, 0.0), axis=-1)


class SampledBaseline(NamedTuple):
    """A sampled baseline and the effective sample size of its weights, both `[...]`."""

    value: Array
    ess: Array


def effective_sample_size(weight: Array) -> Array:
    """`[...]` Kish's effective sample size `(sum_k w_k)^2 / sum_k w_k^2` of the
    self-normalised weights `weight [K, ...]` (K for uniform weights, 1 for a single one)."""
    total = jnp.sum(weight, axis=0)
    return total**2 / jnp.maximum(jnp.sum(weight**2, axis=0), _TINY_WEIGHT)


def gaussian_baseline(
    kind: str,
    key: Array,
    mean: Array,
    std: Array,
    mask: Array,
    q_fn: Callable[[Array], Array],
    num_samples: int,
) -> SampledBaseline:
    """Sampled baseline `[...]` for a diagonal Gaussian policy, with its effective sample size.

    Draws `num_samples` (K) own actions per state, evaluates `q_fn(actions [K, ..., U])
    -> [K, ...]` once on all of them, and averages Q with self-normalised weights: the
    squared score norm for `"ob"`, uniform for `"coma"`. The OB weights grow like z^4, so
    their effective sample size is far below K (about 0.11 K for one action dimension:
    `(E w)^2 / E w^2 = 3^2 / 83` for `w = z^2 + (z^2 - 1)^2`); `ess` reports it.

    Args:
      mean, std, mask: `[..., U]` (mask bool: real action dimensions).
    """
    if kind == "none":
        zeros = jnp.zeros(mean.shape[:-1], mean.dtype)
        return SampledBaseline(zeros, zeros)
    noise = jax.random.normal(key, (num_samples,) + mean.shape, mean.dtype)
    actions = jnp.where(mask, mean + std * noise, 0.0)
    q = q_fn(actions)
    if kind == "coma":
        return SampledBaseline(jnp.mean(q, axis=0), jnp.full(q.shape[1:], num_samples, q.dtype))
    if kind != "ob":
        raise ValueError(f"unknown baseline {kind!r}; use one of {list(Q_BASELINES)}")
    weight = gaussian_score_sq_norm(mean, std, actions, mask)
    value = jnp.sum(weight * q, axis=0) / jnp.maximum(jnp.sum(weight, axis=0), _TINY_WEIGHT)
    return SampledBaseline(value, effective_sample_size(weight))


__all__ = [
    "Q_BASELINES",
    "SampledBaseline",
    "discrete_baseline",
    "effective_sample_size",
    "gaussian_baseline",
    "gaussian_score_sq_norm",
    "softmax_ob_weights",
    "softmax_pg_variance",
    "softmax_score_sq_norm",
]
