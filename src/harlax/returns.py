"""Generalised advantage estimation and value normalisation.

GAE separates the two ways an episode ends: on termination the next value is zero;
on truncation (time limit) it is the value of the true final observation, kept by the
adapter before it reset the environment. Either way the lambda-sum does not run across
the episode boundary.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from harlax.types import Array, ValueNormState


def compute_gae(
    rewards: Array,
    values: Array,
    bootstrap_values: Array,
    terminated: Array,
    truncated: Array,
    last_value: Array,
    gamma: float,
    gae_lambda: float,
) -> tuple[Array, Array]:
    """Advantages and value targets, both `[T, ...]`.

    Args:
      rewards, values: `[T, ...]`; values[t] = V(obs_t).
      bootstrap_values: `[T, ...]` value of the final observation of an episode that was
        truncated at step t (ignored elsewhere).
      terminated, truncated: `[T, ...]` bool (broadcastable to rewards).
      last_value: `[...]` value of the observation after the last step.
    """
    terminated = jnp.broadcast_to(terminated, rewards.shape)
    truncated = jnp.broadcast_to(truncated, rewards.shape)
    following = jnp.concatenate([values[1:], last_value[None]], axis=0)
    next_values = jnp.where(truncated, bootstrap_values, following)
    next_values = jnp.where(terminated, 0.0, next_values)
    deltas = rewards + gamma * next_values - values
    carry_on = 1.0 - (terminated | truncated).astype(rewards.dtype)

    def backward(advantage, step):
        delta, cont = step
        advantage = delta + gamma * gae_lambda * cont * advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(last_value), (deltas, carry_on), reverse=True
    )
    return advantages, advantages + values


def team_reward(rewards: Array, how: str) -> Array:
    """The team's reward `[..., 1]` of the agents' rewards `[..., A]`: their "sum" (HARL's
    PettingZoo MPE) or "mean" (equal rewards: the team reward itself)."""
    combine = jnp.sum if how == "sum" else jnp.mean
    return combine(rewards, axis=-1, keepdims=True)


# --- value normalisation (running mean/std of value targets, MAPPO's ValueNorm)

VALUE_NORM_BETA = 0.99999
VALUE_NORM_EPS = 1e-5


def value_norm_init() -> ValueNormState:
    zero = jnp.zeros((), jnp.float32)
    return ValueNormState(mean=zero, mean_sq=zero, debias=zero)


def _moments(stats: ValueNormState) -> tuple[Array, Array]:
    debias = jnp.maximum(stats.debias, VALUE_NORM_EPS)
    mean = stats.mean / debias
    var = jnp.maximum(stats.mean_sq / debias - mean**2, 1e-2)
    return mean, var


def value_norm_update(stats: ValueNormState, targets: Array) -> ValueNormState:
    """Debiased exponential moving average of the targets' mean and mean square."""
    beta = VALUE_NORM_BETA
    return ValueNormState(
        mean=beta * stats.mean + (1 - beta) * jnp.mean(targets),
        mean_sq=beta * stats.mean_sq + (1 - beta) * jnp.mean(targets**2),
        debias=beta * stats.debias + (1 - beta),
    )


def normalize(stats: ValueNormState, x: Array) -> Array:
    mean, var = _moments(stats)
    return (x - mean) / jnp.sqrt(var)


def denormalize(stats: ValueNormState, x: Array) -> Array:
    mean, var = _moments(stats)
    return x * jnp.sqrt(var) + mean


def masked_mean(x: Array, mask: Array | None = None) -> Array:
    """Mean of `x` over the samples where `mask` is true: `sum(mask * x) / max(sum(mask), 1)`
    (0, not NaN, when no sample is active). `mask=None` is the plain `jnp.mean(x)`."""
    if mask is None:
        return jnp.mean(x)
    m = jnp.broadcast_to(mask, x.shape).astype(jnp.promote_types(x.dtype, jnp.float32))
    return jnp.sum(m * x) / jnp.maximum(jnp.sum(m), 1.0)


def standardize(x: Array, mask: Array | None = None) -> Array:
    """`(x - mean) / (std + 1e-8)` with the mean and (population) std taken over the active
    samples only (`masked_mean`); inactive entries are shifted and scaled alike."""
    if mask is None:
        return (x - x.mean()) / (x.std() + 1e-8)
    mean = masked_mean(x, mask)
    std = jnp.sqrt(masked_mean((x - mean) ** 2, mask))
    return (x - mean) / (std + 1e-8)
