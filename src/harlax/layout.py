"""The agent-axis layouts, and the moves between them. Shapes: A agents, B (or N)
environments, T time steps, H hidden units.

- batch-major `[B, A, ...]`: what the environments return (observations, actions) and the
  runner's recurrent states `[B, A, H]`;
- agent-major `[A, T, B, ...]`: what a stacked `AgentNet` applies to (one parameter set per
  leading index); a single time step is `[A, 1, B, ...]`;
- time-major rollouts `[T, B, A, ...]` (`Transition`), turned agent-major for training.

Every agent-axis move of the package is one of these; each asserts the rank it expects.
"""

from __future__ import annotations

import chex
import jax.numpy as jnp

from harlax.types import Array

# Ranks a layout accepts: at least n axes (trailing feature axes vary by field).
_AT_LEAST = {n: set(range(n, n + 6)) for n in (2, 3)}


def agent_major(x: Array) -> Array:
    """`[B, A, ...]` -> `[A, 1, B, ...]`: one time step, agents leading (for AgentNet)."""
    chex.assert_rank(x, _AT_LEAST[2])
    return jnp.swapaxes(x, 0, 1)[:, None]


def batch_major(x: Array) -> Array:
    """`[A, 1, B, ...]` -> `[B, A, ...]` (inverse of `agent_major`)."""
    chex.assert_rank(x, _AT_LEAST[3])
    chex.assert_axis_dimension(x, 1, 1)
    return jnp.swapaxes(x[:, 0], 0, 1)


def swap_agents(hidden: Array) -> Array:
    """Recurrent states `[B, A, H]` <-> `[A, B, H]` (the runner's layout and AgentNet's)."""
    chex.assert_rank(hidden, 3)
    return jnp.swapaxes(hidden, 0, 1)


def rollout_agent_major(x: Array) -> Array:
    """A rollout field `[T, B, A, ...]` -> `[A, T, B, ...]`."""
    chex.assert_rank(x, _AT_LEAST[3])
    return jnp.moveaxis(x, 2, 0)


def for_each_agent(x: Array, num_agents: int) -> Array:
    """A per-environment rollout field `[T, B]` -> `[A, T, B]` (broadcast)."""
    chex.assert_rank(x, 2)
    return jnp.broadcast_to(x[None], (num_agents,) + x.shape)


def initial_hidden_batch(hidden: Array) -> Array:
    """The runner's recurrent states at a rollout's start `[B, A, H]` -> `[A, 1, B, H]`."""
    chex.assert_rank(hidden, 3)
    return jnp.swapaxes(hidden, 0, 1)[:, None]
