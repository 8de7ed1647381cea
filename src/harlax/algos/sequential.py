"""The sequential scheme of HAPPO / HATRPO: agents update one after another.

A `lax.scan` runs over a permutation of the agents (drawn each iteration, or fixed).
The body gathers agent i's parameters and optimiser state (dynamic index), updates
them against the advantage weighted by the running factor M (the product of the new /
old probability ratios of the agents already updated), writes them back with
`.at[i].set`, and multiplies M by agent i's ratio on the whole batch (no gradient).
No Python loop over agents: compile time does not grow with their number.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from harlax.types import Array, PyTree


def agent_order(key: Array, num_agents: int, fixed: bool) -> Array:
    """`[A]` int: the order in which agents update this iteration."""
    if fixed:
        return jnp.arange(num_agents)
    return jax.random.permutation(key, num_agents)


def agent_keys(key: Array, num_agents: int) -> tuple[Array, Array]:
    """`(order_key, keys [A, 2])`: the key of the permutation and one update key per step.

    Shared by both schemes so that with one agent they see the same randomness.
    """
    order_key, update_key = jax.random.split(key)
    return order_key, jax.random.split(update_key, num_agents)


def sequential_update(
    key: Array,
    params: PyTree,
    opt_state: PyTree,
    batch: PyTree,
    update_agent: Callable,
    fixed_order: bool,
) -> tuple[PyTree, PyTree, dict]:
    """Update stacked per-agent `params` `[A, ...]` one agent at a time.

    Args:
      batch: a PolicyBatch-like pytree with leaves `[A, T, N, ...]`, fields `advantage`
        `[A, T, N]` and `old_log_prob` `[A, T, N]`.
      update_agent: `(params_i, opt_state_i, batch_i [1, T, N, ...], agent_index [1], key)
        -> (params_i, opt_state_i, new_log_prob [1, T, N], metrics)`.

    Returns updated params and optimiser states, and metrics: per-agent metrics in agent
    index order `[A]`, plus `factor_min` / `factor_max`, the range of M over the batch
    seen by each agent `[A]`, and `order` `[A]`.
    """
    num_agents = jax.tree.leaves(params)[0].shape[0]
    order_key, keys = agent_keys(key, num_agents)
    order = agent_order(order_key, num_agents, fixed_order)
    factor = jnp.ones_like(batch.advantage[0])  # [T, N]

    def gather(tree: PyTree, i: Array) -> PyTree:
        return jax.tree.map(lambda x: x[i], tree)

    def scatter(tree: PyTree, i: Array, value: PyTree) -> PyTree:
        return jax.tree.map(lambda x, v: x.at[i].set(v), tree, value)

    def body(carry, step):
        params, opt_state, factor = carry
        i, agent_key = step
        batch_i = jax.tree.map(lambda x: jax.lax.dynamic_slice_in_dim(x, i, 1, axis=0), batch)
        weighted = batch_i._replace(advantage=batch_i.advantage * factor[None])
        new_params_i, new_opt_i, new_log_prob, metrics = update_agent(
            gather(params, i), gather(opt_state, i), weighted, i[None], agent_key
        )
        metrics = dict(metrics, factor_min=jnp.min(factor), factor_max=jnp.max(factor))
        ratio = jnp.exp(new_log_prob[0] - batch_i.old_log_prob[0])
        factor = jax.lax.stop_gradient(factor * ratio)
        params = scatter(params, i, new_params_i)
        opt_state = scatter(opt_state, i, new_opt_i)
        return (params, opt_state, factor), metrics

    (params, opt_state, _), metrics = jax.lax.scan(body, (params, opt_state, factor), (order, keys))
    # Metrics come out in update order; report them by agent index.
    by_agent = jax.tree.map(lambda m: jnp.zeros_like(m).at[order].set(m), metrics)
    return params, opt_state, dict(by_agent, order=order)
