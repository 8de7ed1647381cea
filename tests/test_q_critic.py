"""The centralised Q critic: its input, its discrete heads, and the learner's signal
X = Q - b, each against a plain loop that evaluates the critic one action at a time."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harlax import Config, returns
from harlax.algos.q_critic import QCritic
from harlax.distributions import make_head
from harlax.envs.spec import MultiAgentSpec
from harlax.nets import apply_q, make_nets, make_q_critic, q_input
from harlax.types import Observation, Transition

A, U, S, OBS = 3, 4, 5, 6


def make_spec(discrete: bool) -> MultiAgentSpec:
    return MultiAgentSpec(
        agents=tuple(f"agent_{i}" for i in range(A)),
        obs_dims=(OBS,) * A,
        action_dims=(U, U, U - 1),  # the last agent has a padded action
        discrete=discrete,
        state_dim=S,
        max_steps=10,
    )


@functools.lru_cache
def make_nets_and_params(discrete: bool):
    spec = make_spec(discrete)
    config = Config(hidden_dim=8)
    actor, _ = make_nets(spec, config, share_actor=False, central_critic=True)
    critic = make_q_critic(spec, config)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    return actor, critic, jax.jit(actor.init)(keys[0]), jax.jit(critic.init)(keys[1])


def make_q(discrete: bool, baseline: str = "ob", num_samples: int = 6):
    actor, critic, actor_params, critic_params = make_nets_and_params(discrete)
    q = QCritic(actor, critic, make_head(discrete), U, baseline, num_samples, True)
    return q, actor_params, critic_params, make_spec(discrete)


@functools.lru_cache
def random_batch(discrete: bool, lead=(2, 3)):
    """Observation and joint action with leading axes `lead` (T, B)."""
    rng = np.random.default_rng(1)
    avail = np.broadcast_to(make_spec(discrete).action_mask(), lead + (A, U))
    if discrete:
        action = rng.integers(0, U - 1, lead + (A,))
    else:
        action = np.where(avail, rng.normal(size=lead + (A, U)), 0.0)
    obs = Observation(
        obs=jnp.asarray(rng.normal(size=lead + (A, OBS)), jnp.float32),
        state=jnp.asarray(rng.normal(size=lead + (S,)), jnp.float32),
        avail=jnp.asarray(avail),
    )
    return obs, jnp.asarray(action, jnp.int32 if discrete else jnp.float32)


@pytest.mark.parametrize("discrete", [True, False])
def test_q_input_matches_a_loop(discrete):
    obs, action = random_batch(discrete, lead=(2,))
    x = np.asarray(q_input(obs.state, action, U, discrete))
    assert x.shape == (2, A, S + A * U)
    for n in range(2):
        for i in range(A):
            blocks = []
            for j in range(A):
                if discrete:
                    block = np.eye(U)[int(action[n, j])] * (j != i)
                else:
                    block = np.asarray(action[n, j])
                blocks.append(block)
            expected = np.concatenate([np.asarray(obs.state[n])] + blocks)
            np.testing.assert_allclose(x[n, i], expected, rtol=1e-6)


def test_discrete_heads_agree_with_action_by_action_evaluation():
    q, actor_params, critic_params, _ = make_q(True)
    obs, action = random_batch(True)
    flat_obs = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), obs)
    flat_action = action.reshape(-1, A)
    heads_fn = jax.jit(lambda cp, state, a: apply_q(q.critic, cp, q.inputs(state, a)))
    heads = heads_fn(critic_params, flat_obs.state, flat_action)  # [N, A, U]
    value_fn = jitted_value(q)
    for i in range(A):
        for u in range(U):
            changed = flat_action.at[:, i].set(u)
            value = value_fn(actor_params, critic_params, flat_obs, changed)  # [N, A]
            np.testing.assert_allclose(value[:, i], heads[:, i, u], rtol=1e-5, atol=1e-6)
    # The heads of agent i do not depend on agent i's own action ...
    other = flat_action.at[:, 0].set((flat_action[:, 0] + 1) % U)
    heads_other = heads_fn(critic_params, flat_obs.state, other)
    np.testing.assert_allclose(heads_other[:, 0], heads[:, 0], rtol=1e-6)
    # ... but do depend on the other agents' actions.
    assert not np.allclose(heads_other[:, 1], heads[:, 1])


def pick(obs: Observation, t: int, n: int) -> Observation:
    """One (t, n) entry of `[T, B, ...]` observations, as a batch of one."""
    return jax.tree.map(lambda v: v[t, n][None], obs)


def jitted_value(q: QCritic):
    """`(actor_params, critic_params, obs, action) -> [N, A]` Q of the given joint action."""
    return jax.jit(lambda ap, cp, o, a: q.value(ap, cp, o, a, None))


def transition(obs, action, value):
    zeros = jnp.zeros(value.shape[:2])
    return Transition(
        obs=obs, first=zeros.astype(bool), action=action, log_prob=value, value=value,
        reward=value, terminated=zeros.astype(bool), truncated=zeros.astype(bool),
        bootstrap_value=value, episode_return=zeros, episode_done=zeros.astype(bool),
    )  # fmt: skip


@pytest.mark.parametrize("baseline", ["ob", "coma", "none"])
def test_discrete_signal_matches_a_loop(baseline):
    q, actor_params, critic_params, _ = make_q(True, baseline)
    obs, action = random_batch(True)
    value = jnp.asarray(np.random.default_rng(5).normal(size=action.shape), jnp.float32)
    stats = returns.value_norm_update(returns.value_norm_init(), 3.0 + 2.0 * value)
    q.q_signal = "critic"
    signal = jax.jit(lambda ap, cp, st, tr: q.signal(ap, cp, st, tr, None, None)[0])
    x = signal(actor_params, critic_params, stats, transition(obs, action, value))
    value_fn = jitted_value(q)
    out = q.policy_out(actor_params, obs.obs)
    raw = lambda v: float(returns.denormalize(stats, jnp.asarray(v)))
    for t in range(2):
        for n in range(3):
            for i in range(A):
                real = int(make_spec(True).action_dims[i])
                logits = np.asarray(out[t, n, i, :real], np.float64)
                p = np.exp(logits - logits.max())
                p /= p.sum()
                heads = []
                for u in range(real):  # the critic evaluated one own action at a time
                    joint = action[t, n].at[i].set(u)
                    heads.append(float(value_fn(actor_params, critic_params, pick(obs, t, n),
                                                joint[None])[0, i]))  # fmt: skip
                heads = np.array(heads)
                norm2 = np.sum(p**2)
                weights = {
                    "ob": p * (1 + norm2 - 2 * p) / (1 - norm2),
                    "coma": p,
                    "none": np.zeros(real),
                }[baseline]
                b = np.sum(weights * heads)
                expected = raw(value[t, n, i]) - (raw(b) if baseline != "none" else 0.0)
                assert float(x[t, n, i]) == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_gaussian_baseline_values_match_a_loop(baseline="ob"):
    """(COMA's uniform weights are covered in test_baselines.py.)"""
    k = 5
    q, actor_params, critic_params, spec = make_q(False, baseline, num_samples=k)
    obs, action = random_batch(False, lead=(2, 2))
    tr = transition(obs, action, jnp.zeros(action.shape[:3]))
    key = jax.random.PRNGKey(7)
    b, ess = jax.jit(q.baseline_values)(actor_params, critic_params, tr, key)  # [T, B, A]
    value_fn = jitted_value(q)
    out = q.policy_out(actor_params, obs.obs)
    mean, log_std = np.split(np.asarray(out), 2, axis=-1)
    std = np.exp(log_std)
    mask = spec.action_mask()
    step_keys = jax.random.split(key, 2)
    for t in range(2):
        noise = np.asarray(jax.random.normal(step_keys[t], (k, 2, A, U)))
        for n in range(2):
            for i in range(A):
                qs, ws = [], []
                for s in range(k):
                    own = np.where(mask[i], mean[t, n, i] + std[t, n, i] * noise[s, n, i], 0.0)
                    joint = np.asarray(action[t, n]).copy()
                    joint[i] = own
                    joint = jnp.asarray(joint[None], jnp.float32)
                    qs.append(float(value_fn(actor_params, critic_params, pick(obs, t, n),
                                             joint)[0, i]))  # fmt: skip
                    z2 = ((own - mean[t, n, i]) / std[t, n, i]) ** 2
                    per_dim = (z2 + (z2 - 1) ** 2) / std[t, n, i] ** 2
                    ws.append(np.sum(np.where(mask[i], per_dim, 0.0)) if baseline == "ob" else 1.0)
                expected = np.sum(np.array(ws) * np.array(qs)) / np.sum(ws)
                assert float(b[t, n, i]) == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_sampled_bootstrap_action_is_available():
    """Q of a policy-sampled joint action (used on truncation) only uses real actions."""
    q, actor_params, critic_params, _ = make_q(True)
    obs, _ = random_batch(True, lead=(64,))
    value = jax.jit(q.value)(actor_params, critic_params, obs, None, jax.random.PRNGKey(3))
    assert value.shape == (64, A) and np.all(np.isfinite(value))
