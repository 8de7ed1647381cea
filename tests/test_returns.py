"""GAE and value normalisation against plain-Python references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harlax import returns


def gae_reference(rewards, values, bootstrap, terminated, truncated, last_value, gamma, lam):
    """Textbook GAE, one environment and agent, written as a backward Python loop."""
    t_max = len(rewards)
    advantages = np.zeros(t_max)
    running = 0.0
    for t in reversed(range(t_max)):
        if terminated[t]:
            next_value, running = 0.0, 0.0
        elif truncated[t]:
            next_value, running = bootstrap[t], 0.0
        else:
            next_value = values[t + 1] if t + 1 < t_max else last_value
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
    return advantages, advantages + np.asarray(values)


def random_rollout(seed: int, t_max: int = 12):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=t_max)
    values = rng.normal(size=t_max)
    bootstrap = rng.normal(size=t_max)
    terminated = np.zeros(t_max, bool)
    truncated = np.zeros(t_max, bool)
    terminated[3] = True  # an episode ends in a terminal state mid-rollout
    truncated[7] = True  # and another is cut by the time limit mid-rollout
    return rewards, values, bootstrap, terminated, truncated, rng.normal()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("jit", [False, True])
def test_gae_matches_python_loop(seed, jit):
    rewards, values, bootstrap, term, trunc, last = random_rollout(seed)
    fn = jax.jit(returns.compute_gae, static_argnums=(6, 7)) if jit else returns.compute_gae
    adv, target = fn(*map(jnp.asarray, (rewards, values, bootstrap, term, trunc, last)), 0.97, 0.9)
    ref_adv, ref_target = gae_reference(rewards, values, bootstrap, term, trunc, last, 0.97, 0.9)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(target, ref_target, rtol=1e-5, atol=1e-5)


def test_gae_truncation_uses_bootstrap_value_and_termination_does_not():
    rewards, values, bootstrap, term, trunc, last = random_rollout(0)
    args = [jnp.asarray(x) for x in (rewards, values, bootstrap, term, trunc, last)]
    base, _ = returns.compute_gae(*args, 0.99, 0.95)
    # Changing the bootstrap value at the truncated step changes that step's advantage...
    shifted = args[2].at[7].add(1.0)
    moved, _ = returns.compute_gae(args[0], args[1], shifted, *args[3:], 0.99, 0.95)
    np.testing.assert_allclose(moved[7] - base[7], 0.99, rtol=1e-5)
    # ...and bootstrap values elsewhere (in particular at the terminated step) are ignored.
    ignored = args[2].at[3].add(5.0).at[0].add(5.0)
    same, _ = returns.compute_gae(args[0], args[1], ignored, *args[3:], 0.99, 0.95)
    np.testing.assert_allclose(same, base)


def test_gae_broadcasts_over_envs_and_agents():
    """Leaves `[T, B, A]` with episode flags `[T, B, 1]` equal per-column references."""
    rng = np.random.default_rng(3)
    t_max, b, a = 10, 3, 2
    rewards, values, bootstrap = (rng.normal(size=(t_max, b, a)) for _ in range(3))
    term = rng.random((t_max, b, 1)) < 0.15
    trunc = (rng.random((t_max, b, 1)) < 0.15) & ~term
    last = rng.normal(size=(b, a))
    adv, _ = returns.compute_gae(
        *map(jnp.asarray, (rewards, values, bootstrap, term, trunc, last)), 0.9, 0.8
    )
    for env in range(b):
        for agent in range(a):
            ref, _ = gae_reference(
                rewards[:, env, agent],
                values[:, env, agent],
                bootstrap[:, env, agent],
                term[:, env, 0],
                trunc[:, env, 0],
                last[env, agent],
                0.9,
                0.8,
            )
            np.testing.assert_allclose(adv[:, env, agent], ref, rtol=1e-5, atol=1e-5)


def test_value_norm_tracks_debiased_moments():
    stats = returns.value_norm_init()
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=256) for _ in range(5)]
    for batch in batches:
        stats = returns.value_norm_update(stats, jnp.asarray(batch))
    # Reference: the same debiased exponential moving average written out by hand.
    beta = returns.VALUE_NORM_BETA
    mean = mean_sq = debias = 0.0
    for batch in batches:
        mean = beta * mean + (1 - beta) * batch.mean()
        mean_sq = beta * mean_sq + (1 - beta) * (batch**2).mean()
        debias = beta * debias + (1 - beta)
    ref_mean = mean / debias
    ref_std = np.sqrt(mean_sq / debias - ref_mean**2)
    x = jnp.asarray([0.0, 1.0, 7.5])
    np.testing.assert_allclose(returns.normalize(stats, x), (x - ref_mean) / ref_std, rtol=1e-3)
    np.testing.assert_allclose(
        returns.denormalize(stats, returns.normalize(stats, x)), x, rtol=1e-5, atol=1e-5
    )


def test_gae_in_raw_scale_with_value_norm_matches_reference():
    """With value normalisation, values are stored normalised; GAE runs on the
    denormalised values and equals the reference on those."""
    rewards, values, bootstrap, term, trunc, last = random_rollout(4)
    stats = returns.value_norm_update(
        returns.value_norm_init(), jnp.asarray(np.linspace(-5.0, 9.0, 64))
    )
    normed = [returns.normalize(stats, jnp.asarray(v)) for v in (values, bootstrap, last)]
    raw = [returns.denormalize(stats, v) for v in normed]
    adv, _ = returns.compute_gae(
        jnp.asarray(rewards),
        raw[0],
        raw[1],
        jnp.asarray(term),
        jnp.asarray(trunc),
        raw[2],
        0.99,
        0.95,
    )
    ref, _ = gae_reference(rewards, values, bootstrap, term, trunc, last, 0.99, 0.95)
    np.testing.assert_allclose(adv, ref, rtol=1e-4, atol=1e-4)
