"""Building blocks of the off-policy learner (`harlax.algos.maddpg`): target networks and
TD targets, the replay buffer, which inputs each agent's critic sees, and one optimiser
per agent over stacked parameters."""

from __future__ import annotations

import flashbax as fbx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from harlax.choices import ADVERSARY_PREFIX
from harlax.config import Config
from harlax.types import Array, PyTree
from harlax.validation import Derived


def polyak(online: PyTree, target: PyTree, tau: float) -> PyTree:
    """`tau * online + (1 - tau) * target`, leaf by leaf."""
    return optax.incremental_update(online, target, tau)


def td_target(reward: Array, terminated: Array, next_q: Array, gamma: float) -> Array:
    """`r + gamma * Q'(x', a')`, without bootstrap where the episode terminated.

    reward, next_q: `[A, N]`; terminated: `[N]` bool. Truncation (the time limit) bootstraps:
    the buffer holds the true final observation as `next_obs`.
    """
    return reward + gamma * jnp.where(terminated, 0.0, next_q)


def make_replay_buffer(config: Config):
    """flashbax item buffer of `Replay` items: `add` takes `[K, ...]` batches, `sample`
    returns `batch_size` items drawn uniformly from the written slots, and `can_sample`
    is true once `learning_starts` items were added."""
    return fbx.make_item_buffer(
        max_length=config.buffer_size,
        min_length=config.learning_starts,
        sample_batch_size=config.batch_size,
        add_batches=True,
    )


def critic_centralised(derived: Derived, agents: tuple[str, ...]) -> tuple[bool, ...]:
    """Per agent: a centralised critic `Q_i(x, a_1..a_N)` (True) or `Q_i(o_i, a_i)`. Agents
    named `adversary*` follow `adversary_algo` when it is set, the others `algo`."""
    adversary = derived.adversary_centralised_critic
    return tuple(
        adversary
        if adversary is not None and name.startswith(ADVERSARY_PREFIX)
        else derived.centralised_critic
        for name in agents
    )


def critic_input_mask(spec, central: tuple[bool, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Which critic inputs each agent's critic keeps: `(mask [A, D], columns [D])`.

    Critic i's full input is `[x (S), o_i (O), a_i (U), a_1..a_N (A * U)]`. A centralised
    critic keeps `x` and the joint action, a decentralised one `o_i` and `a_i`; the masked
    inputs are zero, so the output and every gradient are those of `Q_i(o_i, a_i)` (or
    `Q_i(x, a)`) on the same weights, and the weights of masked inputs never change.
    `columns` are the full-input indices some agent keeps (D of them): without cross-play
    the input is exactly `[x, a_1..a_N]` or `[o_i, a_i]`. The first kernel is orthogonal
    (nets._dense): while D <= hidden_dim its rows are orthogonal of norm sqrt(2), so the kept
    rows are initialised as in a pure net of the kept width (simple_adversary: D = 58 <= 64).
    """
    s, o, u, a = spec.state_dim, spec.obs_dim, spec.action_dim, spec.num_agents
    kinds = np.array([True] * s + [False] * (o + u) + [True] * (a * u))  # centralised inputs
    full = np.where(np.asarray(central)[:, None], kinds[None], ~kinds[None])  # [A, S+O+U+A*U]
    columns = np.flatnonzero(full.any(axis=0))
    return full[:, columns], columns


def stacked_optimizer_init(tx: optax.GradientTransformation, params: PyTree) -> PyTree:
    """One optimiser state per agent over stacked `[A, ...]` params."""
    return jax.vmap(tx.init)(params)


def stacked_apply(
    tx: optax.GradientTransformation, params: PyTree, opt_state: PyTree, grads: PyTree
) -> tuple[PyTree, PyTree]:
    """One optimiser per agent (per-agent gradient clipping), over stacked `[A, ...]` params."""

    def one(p, s, g):
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    return jax.vmap(one)(params, opt_state, grads)


def apply_stacked(net, params: PyTree, x: Array) -> Array:
    """Feed-forward stacked `AgentNet` on agent-major input `x [K, N, D]` -> `[K, N, ...]`."""
    k, n = x.shape[:2]
    _, out = net.apply_all(params, jnp.zeros((k, n, 0)), x[:, None], jnp.zeros((1, n), bool))
    return out[:, 0]
