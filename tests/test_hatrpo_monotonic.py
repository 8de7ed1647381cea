"""HATRPO's monotonic improvement (Kuba et al., ICLR 2022, Theorem 2 / Algorithm 1) on
cooperative matrix games with tabular softmax policies and exact advantages.

The library's own `sequential_update` + `trust_region_step` run on a "batch" that holds
every joint action once, weighted by its probability, so every expectation is exact. In a
one-step game the agents' M-weighted surrogate gains telescope to the exact change of the
joint return, and the line search only accepts positive gains, so the return can never
decrease.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harlax.algos.sequential import sequential_update
from harlax.distributions import CategoricalHead
from harlax.envs.matrix import TEAM_GAMES, expected_payoff
from harlax.trust_region import trust_region_step

ITERATIONS, STARTS = 50, 4


class JointBatch(NamedTuple):
    action: jax.Array  # [A, 1, N] each agent's action in every joint action
    old_log_prob: jax.Array  # [A, 1, N]
    advantage: jax.Array  # [A, 1, N] N * pi_old(a) * A(a): its mean is the expectation


def run_hatrpo(payoff: np.ndarray, logits0: jax.Array, key: jax.Array):
    """50 HATRPO iterations from `logits0` `[A, U]`: joint returns `[51]`, surrogate gains
    per iteration `[50]`, accepted steps `[50, A]`."""
    num_agents, num_actions = payoff.ndim, payoff.shape[0]
    joint = np.array(list(itertools.product(range(num_actions), repeat=num_agents)))  # [N, A]
    action = jnp.asarray(joint.T[:, None, :])
    payoff = jnp.asarray(payoff, jnp.float32)
    head = CategoricalHead()
    mask = jnp.ones(num_actions, bool)

    def joint_return(logits):
        return expected_payoff(payoff, list(jax.nn.softmax(logits)))

    def update_agent(logits_i, opt_i, batch_i, agent_index, key):
        def log_prob(z):
            return jax.nn.log_softmax(z)[batch_i.action]  # [1, 1, N]

        def surrogate(z):
            return jnp.mean(jnp.exp(log_prob(z) - batch_i.old_log_prob) * batch_i.advantage)

        kl = lambda z: head.kl(logits_i, z, mask)
        # Tabular: the policy's outputs are its parameters (the logits).
        identity = lambda z: z
        new, info, _ = trust_region_step(
            logits_i, identity, surrogate, kl, 0.01, 10, 0.1, 10, 0.5, 0.8
        )
        return new, opt_i, log_prob(new), {"gain": info.improvement, "accepted": info.accepted}

    def iteration(logits, key):
        log_pi = jax.nn.log_softmax(logits)  # [A, U]
        old_log_prob = jnp.take_along_axis(log_pi[:, None, :], action, axis=-1)  # [A, 1, N]
        prob = jnp.exp(jnp.sum(old_log_prob[:, 0], axis=0))  # [N] joint probability
        advantage = payoff[tuple(joint.T)] - joint_return(logits)  # exact A(a)
        weighted = jnp.broadcast_to(joint.shape[0] * prob * advantage, old_log_prob.shape)
        batch = JointBatch(action, old_log_prob, weighted)
        new, _, metrics = sequential_update(
            key, logits, jnp.zeros(num_agents), batch, update_agent, False
        )
        return new, (joint_return(new), jnp.sum(metrics["gain"]), metrics["accepted"])

    _, (returns, gains, accepted) = jax.lax.scan(
        iteration, logits0, jax.random.split(key, ITERATIONS)
    )
    return jnp.concatenate([joint_return(logits0)[None], returns]), gains, accepted


@pytest.mark.parametrize("game", ["climbing", "penalty", "coordination3"])
def test_hatrpo_joint_return_never_decreases(game):
    payoff = TEAM_GAMES[game]
    shape = (STARTS, payoff.ndim, payoff.shape[0])
    logits0 = 2.0 * jax.random.normal(jax.random.PRNGKey(0), shape)
    keys = jax.random.split(jax.random.PRNGKey(1), STARTS)
    returns, gains, accepted = jax.jit(jax.vmap(lambda z, k: run_hatrpo(payoff, z, k)))(
        logits0, keys
    )
    returns, gains = np.asarray(returns), np.asarray(gains)
    scale = np.abs(payoff).max()
    change = np.diff(returns, axis=1)
    assert change.min() >= -1e-5 * scale, f"joint return decreased by {-change.min()}"
    # The agents' accepted surrogate gains add up to the exact change of the joint return.
    np.testing.assert_allclose(gains, change, atol=2e-5 * scale)
    assert np.all(returns[:, -1] > returns[:, 0] + 1e-3)  # and it does learn
    assert np.asarray(accepted).mean() > 0.5
