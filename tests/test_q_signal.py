"""The Q critic's actor signal through the learner's own wiring (`actor_signal`):

- `q_signal="return"`: `X = G^lambda - b` equals a plain-Python lambda-return minus the
  baseline, on a rollout with a termination and a truncation in it;
- OB, COMA and no baseline are unbiased on a matrix game, by exact enumeration of the
  joint actions, with both signals.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import harlax
from harlax import returns
from harlax.envs.matrix import CLIMBING
from harlax.train import make_train
from harlax.types import Transition

GAMMA, LAMBDA = 0.9, 0.7
JOINT = list(itertools.product(range(3), range(3)))  # the climbing game's 9 joint actions


@functools.lru_cache
def learner_and_state(baseline: str, q_signal: str):
    config = harlax.Config(
        algo="mappo_ob",
        baseline=baseline,
        q_signal=q_signal,
        env="matrix:climbing",
        total_steps=len(JOINT),
        num_envs=len(JOINT),
        rollout_length=1,
        num_minibatches=1,
        updates_per_chunk=1,
        hidden_dim=8,
        gamma=GAMMA,
        gae_lambda=LAMBDA,
        num_devices=1,
        progress=False,
    )
    program = make_train(config)
    state = program.init(jax.random.PRNGKey(0))
    # A value normaliser away from the identity, so that scales are exercised.
    stats = returns.value_norm_update(returns.value_norm_init(), 3.0 + 2.0 * jnp.arange(5.0))
    return program.learner, state._replace(value_norm=stats)


def rollout(learner, state, lead, action, reward, terminated, truncated, bootstrap_action):
    """A hand-made `[T, B]` rollout on the constant observation of the matrix game, with
    the rollout-time values the learner records: the critic's Q of the taken action."""
    obs = jax.tree.map(
        lambda x: jnp.broadcast_to(x[0], lead + x.shape[1:]), state.runner.env_state.observation
    )
    flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[len(lead) :]), obs)
    value_of = lambda a: learner.critic_fns.value(
        state.actor_params, state.critic_params, flat, a.reshape(-1, 2), None
    ).reshape(lead + (2,))
    zeros = jnp.zeros(lead)
    return Transition(
        obs=obs, first=zeros.astype(bool), action=action, log_prob=jnp.zeros(lead + (2,)),
        value=value_of(action), reward=reward, terminated=terminated, truncated=truncated,
        bootstrap_value=value_of(bootstrap_action), episode_return=zeros,
        episode_done=terminated | truncated,
    )  # fmt: skip


def test_return_signal_is_the_lambda_return_minus_the_baseline():
    learner, state = learner_and_state("ob", "return")
    t, b = 5, 3
    rng = np.random.default_rng(0)
    action = jnp.asarray(rng.integers(0, 3, (t, b, 2)), jnp.int32)
    bootstrap_action = jnp.asarray(rng.integers(0, 3, (t, b, 2)), jnp.int32)
    reward = jnp.asarray(rng.normal(size=(t, b, 2)), jnp.float32)
    terminated = np.zeros((t, b), bool)
    truncated = np.zeros((t, b), bool)
    terminated[1, 0] = True
    truncated[2, 1] = True
    truncated[4, 2] = True  # a truncation on the rollout's last step
    tr = rollout(
        learner, state, (t, b), action, reward, jnp.asarray(terminated), jnp.asarray(truncated),
        bootstrap_action,
    )  # fmt: skip
    last_value = jnp.asarray(rng.normal(size=(b, 2)), jnp.float32)
    key = jax.random.PRNGKey(4)
    signal, target, _ = jax.jit(learner.actor_signal)(state, tr, last_value, key)
    baseline, _ = learner.critic_fns.baseline_values(
        state.actor_params, state.critic_params, tr, jax.random.PRNGKey(9)
    )  # discrete heads: no sampling, so any key gives the same baseline

    raw = lambda v: np.asarray(returns.denormalize(state.value_norm, jnp.asarray(v)), np.float64)
    q, q_boot, last = raw(tr.value), raw(tr.bootstrap_value), raw(last_value)
    r = np.asarray(reward, np.float64)
    expected = np.zeros((t, b, 2))
    for n in range(b):
        g = last[n]  # G_T: the rollout is cut, bootstrap from the next value
        next_q = last[n]
        for step in reversed(range(t)):
            if terminated[step, n]:
                g = r[step, n]
            elif truncated[step, n]:
                g = r[step, n] + GAMMA * q_boot[step, n]
            else:
                g = r[step, n] + GAMMA * ((1 - LAMBDA) * next_q + LAMBDA * g)
            expected[step, n] = g
            next_q = q[step, n]
    np.testing.assert_allclose(target, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(signal, expected - raw(baseline), rtol=1e-5, atol=1e-4)
    # The return signal carries the rewards; the critic's estimate does not.
    assert not np.allclose(signal, q - raw(baseline), atol=1e-2)


@pytest.mark.parametrize("q_signal", ["return", "critic"])
@pytest.mark.parametrize("baseline", ["ob", "coma", "none"])
def test_every_baseline_is_unbiased_with_either_signal(baseline, q_signal):
    """Sum over all joint actions of P(a) (e_{a_i} - pi_i) X_i(a) equals the exact gradient
    with respect to agent i's logits of the expected `Qhat`: the payoff for the return
    signal (the game is one step), the critic's own Q for the critic signal."""
    learner, state = learner_and_state(baseline, q_signal)
    lead = (1, len(JOINT))
    action = jnp.asarray(JOINT, jnp.int32)[None]
    payoff = jnp.asarray(CLIMBING, jnp.float32)
    reward = jnp.broadcast_to(payoff[action[..., 0], action[..., 1]][..., None], lead + (2,))
    done = jnp.ones(lead, bool)
    tr = rollout(learner, state, lead, action, reward, done, ~done, action)
    signal, _, _ = learner.actor_signal(state, tr, jnp.zeros((len(JOINT), 2)), None)
    signal = np.asarray(signal[0], np.float64)  # [9, A]

    logits = learner.critic_fns.policy_out(state.actor_params, tr.obs.obs)[0, 0]  # [A, U]
    q_hat = np.asarray(returns.denormalize(state.value_norm, tr.value[0]))  # [9, A]
    for i in range(2):
        # Qhat_i over the joint-action table [U, U]
        table = payoff if q_signal == "return" else jnp.asarray(q_hat[:, i].reshape(3, 3))

        def expected(agent_logits, i=i, table=table):
            probs = [jax.nn.softmax(logits[j]) for j in range(2)]
            probs[i] = jax.nn.softmax(agent_logits)
            return jnp.einsum("a,b,ab->", probs[0], probs[1], table)

        exact = np.asarray(jax.grad(expected)(logits[i]))
        p = [np.asarray(jax.nn.softmax(logits[j]), np.float64) for j in range(2)]
        estimate = np.zeros(3)
        for k, (a0, a1) in enumerate(JOINT):
            own = (a0, a1)[i]
            estimate += p[0][a0] * p[1][a1] * (np.eye(3)[own] - p[i]) * signal[k, i]
        np.testing.assert_allclose(estimate, exact, rtol=1e-4, atol=1e-4)


def test_q_signal_is_refused_without_the_q_critic():
    with pytest.raises(ValueError, match="Config.q_signal"):
        harlax.Config(algo="mappo", q_signal="return").validate()
    with pytest.raises(ValueError, match="Config.q_signal"):
        harlax.Config(algo="mappo_ob", q_signal="gae").validate()


@pytest.mark.parametrize(
    "changes, expected",
    [
        (dict(algo="mappo_ob"), "return"),
        (dict(algo="happo_ob"), "return"),
        (dict(algo="coma"), "critic"),
        (dict(algo="coma", baseline="ob"), "return"),
        (dict(algo="mappo_ob", q_signal="critic"), "critic"),
        (dict(algo="mappo"), None),
    ],
)
def test_default_signals(changes, expected):
    assert harlax.Config(**changes).validate().q_signal == expected
