"""Active masks (SMAX's dead agents): a batch with inactive samples gives the losses of the
batch without them, and the masked statistics match plain numpy of the same formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from opsutil import tiny_config

import harlax
from harlax import returns
from harlax.algos.batches import CriticBatch, PolicyBatch
from harlax.algos.policy_steps import clip_loss

SMAX = tiny_config(
    env="SMAX", env_kwargs={"map_name": "3m"}, num_envs=2, num_minibatches=1, hidden_dim=8
)
K, N, DEAD = 3, 12, 4  # agents, samples per agent, inactive samples per agent


def _mask() -> np.ndarray:
    """`[K, 1, N]` bool: agent k is inactive on DEAD samples at its own positions."""
    mask = np.ones((K, 1, N), bool)
    for k, dead in enumerate([[0, 1, 2, 3], [5, 7, 9, 11], [2, 6, 10, 11]]):
        assert len(dead) == DEAD
        mask[k, 0, dead] = False
    return mask


def _compact(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Keep each agent's active samples: `[K, 1, N, ...]` -> `[K, 1, N - DEAD, ...]`."""
    return np.stack([x[k, 0][mask[k, 0]] for k in range(K)])[:, None]


def _policy_batch(env, key) -> PolicyBatch:
    spec = env.spec
    k_obs, k_act, k_lp, k_adv = jax.random.split(key, 4)
    obs = jax.random.normal(k_obs, (K, 1, N, spec.obs_dim))
    avail = np.ones((K, 1, N, spec.action_dim), bool)
    avail[..., -2:] = False  # some unavailable actions, as in SMAX
    action = jax.random.randint(k_act, (K, 1, N), 0, spec.action_dim - 2)
    return PolicyBatch(
        obs=obs,
        avail=jnp.asarray(avail),
        action=action,
        old_log_prob=jnp.log(1.0 / spec.action_dim) + 0.3 * jax.random.normal(k_lp, (K, 1, N)),
        advantage=jax.random.normal(k_adv, (K, 1, N)),
        first=jnp.ones((K, 1, N), bool),
        init_hidden=jnp.zeros((K, 1, N, 0)),
    )


def _without_inactive(batch, mask):
    """The same batch with the inactive samples removed (and no mask)."""
    kept = {
        name: jnp.asarray(_compact(np.asarray(value), mask))
        for name, value in batch._asdict().items()
        if value is not None and name != "init_hidden" and name != "active"
    }
    kept["init_hidden"] = jnp.zeros((K, 1, N - DEAD, 0))
    return batch._replace(active=None, **kept)


@pytest.fixture(scope="module")
def mappo():
    return harlax.make_train(SMAX).learner


def test_smax_learner_uses_masks_and_the_switches_turn_them_off(mappo):
    assert mappo.policy_masks and mappo.value_masks
    off = harlax.make_train(
        SMAX.replace(use_policy_active_masks=False, use_value_active_masks=False)
    ).learner
    assert not off.policy_masks and not off.value_masks
    mpe = harlax.make_train(SMAX.replace(env="MPE_simple_spread_v3", env_kwargs={})).learner
    assert not mpe.policy_masks and not mpe.value_masks  # MPE has no inactive agents


def test_clip_loss_with_inactive_samples_is_the_loss_without_them(mappo):
    params = mappo.actor.init(jax.random.PRNGKey(1))
    mask = _mask()
    batch = _policy_batch(mappo.env, jax.random.PRNGKey(2))
    masked = batch._replace(active=jnp.asarray(mask))
    agents = jnp.arange(K)
    loss, aux = clip_loss(mappo, params, agents, masked)
    ref_loss, ref_aux = clip_loss(mappo, params, agents, _without_inactive(batch, mask))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6, atol=1e-7)
    for name in ("entropy", "clip_frac", "approx_kl"):
        np.testing.assert_allclose(aux[name], ref_aux[name], rtol=1e-6, atol=1e-7)
    full_loss, _ = clip_loss(mappo, params, agents, batch)
    assert abs(float(full_loss) - float(ref_loss)) > 1e-3  # the inactive samples do matter
    # Gradients too: what the optimiser sees is the loss of the active samples.
    grad = jax.grad(lambda p: clip_loss(mappo, p, agents, masked)[0])(params)
    ref_grad = jax.grad(lambda p: clip_loss(mappo, p, agents, _without_inactive(batch, mask))[0])(
        params
    )
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), grad, ref_grad
    )


def test_critic_loss_with_inactive_samples_is_the_loss_without_them(mappo):
    params = mappo.critic.init(jax.random.PRNGKey(3))
    mask = _mask()
    keys = jax.random.split(jax.random.PRNGKey(4), 3)
    x = jax.random.normal(keys[0], (K, 1, N, mappo.env.spec.state_dim))
    batch = CriticBatch(
        x=x,
        target=jax.random.normal(keys[1], (K, 1, N)),
        old_value=0.3 * jax.random.normal(keys[2], (K, 1, N)),  # value clipping is active
        first=jnp.ones((K, 1, N), bool),
        init_hidden=jnp.zeros((K, 1, N, 0)),
    )
    loss, _ = mappo.critic_loss(params, batch._replace(active=jnp.asarray(mask)))
    ref_loss, _ = mappo.critic_loss(params, _without_inactive(batch, mask))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6, atol=1e-7)
    full_loss, _ = mappo.critic_loss(params, batch)
    assert abs(float(full_loss) - float(ref_loss)) > 1e-3


def test_trust_region_step_with_inactive_samples_is_the_step_without_them():
    """HATRPO: the surrogate, its KL constraint and the `kl` metric use active samples."""
    learner = harlax.make_train(SMAX.replace(algo="hatrpo")).learner
    assert learner.derived.step == "trust_region" and not learner.actor.shared
    params = jax.tree.map(lambda x: x[0], learner.actor.init(jax.random.PRNGKey(5)))
    mask = _mask()[:1]  # one agent's batch `[1, 1, N]`
    batch = jax.tree.map(lambda x: x[:1], _policy_batch(learner.env, jax.random.PRNGKey(6)))
    kept = {
        name: jnp.asarray(np.asarray(value)[:, :, mask[0, 0]])
        for name, value in batch._asdict().items()
        if value is not None and name != "init_hidden"
    }
    compact = batch._replace(init_hidden=jnp.zeros((1, 1, N - DEAD, 0)), **kept)
    step = jax.jit(learner.update_policy)
    key, agent = jax.random.PRNGKey(0), jnp.array([0])
    new, _, _, metrics = step(params, (), batch._replace(active=jnp.asarray(mask)), agent, key)
    ref, _, _, ref_metrics = step(params, (), compact, agent, key)
    full, _, _, _ = step(params, (), batch, agent, key)
    assert bool(ref_metrics["step_accepted"])
    for name in ("kl", "improvement", "step_fraction"):
        np.testing.assert_allclose(metrics[name], ref_metrics[name], rtol=1e-4, atol=1e-8)
    leaves, ref_leaves, full_leaves = (jax.tree.leaves(p) for p in (new, ref, full))
    for a, b in zip(leaves, ref_leaves, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert (
        max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(full_leaves, ref_leaves, strict=True))
        > 1e-4
    )


def test_masked_mean_and_standardize_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    mask = rng.random((3, 5, 4)) < 0.6
    np.testing.assert_allclose(returns.masked_mean(x, mask), x[mask].mean(), atol=1e-7)
    np.testing.assert_allclose(returns.masked_mean(x, None), x.mean(), atol=1e-7)
    z = np.asarray(returns.standardize(jnp.asarray(x), jnp.asarray(mask)))
    active = x[mask]
    np.testing.assert_allclose(z, (x - active.mean()) / (active.std() + 1e-8), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z[mask].mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(z[mask].std(), 1.0, rtol=1e-5)
    # No active sample: 0, not NaN.
    none = np.zeros_like(mask)
    assert float(returns.masked_mean(x, none)) == 0.0
    assert np.isfinite(np.asarray(returns.standardize(jnp.asarray(x), jnp.asarray(none)))).all()
    # A mask that broadcasts over trailing axes, and a bool x (clip fractions).
    np.testing.assert_allclose(
        returns.masked_mean(x, mask[..., :1]), x[np.broadcast_to(mask[..., :1], x.shape)].mean()
    )
    np.testing.assert_allclose(returns.masked_mean(x > 0, mask), (x > 0)[mask].mean(), rtol=1e-6)
