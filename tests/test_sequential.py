"""The sequential scheme (HAPPO / HATRPO): the M factor against brute force, the permutation,
one agent == the simultaneous scheme, and the refusal of shared parameters."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import opsutil
import pytest

from harlax.algos.batches import PolicyBatch
from harlax.algos.sequential import agent_order, sequential_update
from harlax.config import Config
from harlax.train import make_train


class TabularBatch(NamedTuple):
    action: jax.Array  # [A, T, N] int
    old_log_prob: jax.Array  # [A, T, N]
    advantage: jax.Array  # [A, T, N]


def tabular_case(num_agents=4, num_actions=3, t=2, n=5, seed=0):
    k_logits, k_act, k_adv = jax.random.split(jax.random.PRNGKey(seed), 3)
    logits = jax.random.normal(k_logits, (num_agents, num_actions))
    action = jax.random.randint(k_act, (num_agents, t, n), 0, num_actions)
    old_log_prob = jnp.take_along_axis(
        jax.nn.log_softmax(logits)[:, None, :], action.reshape(num_agents, 1, -1), axis=-1
    ).reshape(action.shape)
    advantage = jnp.broadcast_to(jax.random.normal(k_adv, (t, n)), action.shape)
    return logits, TabularBatch(action, old_log_prob, advantage)


def tabular_update(params_i, opt_i, batch_i, agent_index, key):
    """One noisy gradient-ascent step on the M-weighted surrogate of a softmax policy."""

    def log_prob(logits):
        return jax.nn.log_softmax(logits)[batch_i.action]  # [1, T, N]

    def surrogate(logits):
        return jnp.mean(jnp.exp(log_prob(logits) - batch_i.old_log_prob) * batch_i.advantage)

    new = params_i + 0.5 * jax.grad(surrogate)(params_i) + 0.3 * jax.random.normal(key, (3,))
    return new, opt_i, log_prob(new), {"advantage_seen": batch_i.advantage[0]}


@pytest.mark.parametrize("fixed", [False, True])
def test_m_factor_is_the_product_of_earlier_agents_ratios(fixed):
    logits, batch = tabular_case()
    run = jax.jit(
        lambda k: sequential_update(k, logits, jnp.zeros(4), batch, tabular_update, fixed)
    )
    new, _, metrics = run(jax.random.PRNGKey(7))
    order = np.asarray(metrics["order"])
    before = np.asarray(jax.nn.softmax(logits))
    after = np.asarray(jax.nn.softmax(new))
    action, advantage = np.asarray(batch.action), np.asarray(batch.advantage[0])
    m = np.ones_like(advantage)
    for agent in order:  # brute force, in Python, from the parameters before and after
        np.testing.assert_allclose(metrics["advantage_seen"][agent], advantage * m, rtol=1e-5)
        np.testing.assert_allclose(metrics["factor_min"][agent], m.min(), rtol=1e-5)
        np.testing.assert_allclose(metrics["factor_max"][agent], m.max(), rtol=1e-5)
        m = m * after[agent][action[agent]] / before[agent][action[agent]]
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    if fixed:
        assert order.tolist() == [0, 1, 2, 3]


def test_permutation_is_drawn_in_the_program_and_fixed_order_holds_it():
    keys = jax.random.split(jax.random.PRNGKey(0), 16)
    drawn = np.asarray(jax.jit(jax.vmap(lambda k: agent_order(k, 5, False)))(keys))
    fixed = np.asarray(jax.jit(jax.vmap(lambda k: agent_order(k, 5, True)))(keys))
    assert all(sorted(row) == list(range(5)) for row in drawn.tolist())
    assert len({tuple(row) for row in drawn.tolist()}) > 8  # changes between iterations
    assert (fixed == np.arange(5)).all()

    # The same through the scheme, iterated inside one compiled scan as training does.
    logits, batch = tabular_case()

    def iterations(fixed_order):
        def body(params, key):
            params, _, metrics = sequential_update(
                key, params, jnp.zeros(4), batch, tabular_update, fixed_order
            )
            return params, metrics["order"]

        return jax.jit(lambda p: jax.lax.scan(body, p, keys[:6]))(logits)[1]

    random_orders = np.asarray(iterations(False))
    assert len({tuple(row) for row in random_orders.tolist()}) > 1
    assert (np.asarray(iterations(True)) == np.arange(4)).all()


# ------------------------------------------------------------------ through the learner


def tiny_config(**changes) -> Config:
    """The shared tiny config with two epochs, 32 steps and raw advantages, then `changes`."""
    return opsutil.tiny_config(
        **{"total_steps": 32, "num_epochs": 2, "normalize_advantages": False, **changes}
    )


def synthetic_batch(learner, params, key):
    """A rollout-like PolicyBatch `[A, T, N, ...]` whose log-probs come from `params`."""
    spec, head = learner.env.spec, learner.head
    a, t, n = spec.num_agents, 4, 8
    k_obs, k_act, k_adv = jax.random.split(key, 3)
    obs_mask = np.arange(spec.obs_dim)[None] < np.asarray(spec.obs_dims)[:, None]
    obs = jax.random.normal(k_obs, (a, t, n, spec.obs_dim)) * obs_mask[:, None, None]
    avail = jnp.broadcast_to(
        jnp.asarray(spec.action_mask())[:, None, None], (a, t, n, spec.action_dim)
    )
    hidden = jnp.zeros((a, n, 0))
    first = jnp.zeros((t, n), bool)
    _, out = learner.actor.apply_all(params, hidden, obs, first)
    action = head.sample(k_act, out, avail)
    return PolicyBatch(
        obs=obs,
        avail=avail,
        action=action,
        old_log_prob=head.log_prob(out, avail, action),
        advantage=jnp.broadcast_to(jax.random.normal(k_adv, (t, n)), (a, t, n)),
        first=jnp.broadcast_to(first, (a, t, n)),
        init_hidden=jnp.zeros((a, 1, n, 0)),
    )


def setup(learner):
    """Initial actor parameters, optimiser state and a synthetic batch (one compiled call)."""

    def build(key):
        k_actor, k_critic, k_batch = jax.random.split(key, 3)
        params = learner.actor.init(k_actor)
        opt = learner.init_opt_states(params, learner.critic.init(k_critic))[0]
        return params, opt, synthetic_batch(learner, params, k_batch)

    return jax.jit(build)(jax.random.PRNGKey(1))


def joint_log_probs(learner, params, batch):
    _, out = learner.actor.apply_all(params, batch.init_hidden[:, 0], batch.obs, batch.first[0])
    return learner.head.log_prob(out, batch.avail, batch.action), out


@pytest.mark.slow  # compiles the learner's actor update (about a minute on a loaded CPU)
@pytest.mark.parametrize(
    "env, step",
    [("MPE_simple_spread_v3", "clip"), ("MPE_simple_speaker_listener_v4", "trust_region")],
)
def test_learner_metrics_match_brute_force(env, step):
    """Per-agent KL and the range of M, reported by the compiled update, equal the values
    recomputed from the per-agent parameters before and after (heterogeneous agents too)."""
    config = tiny_config(algo="happo" if step == "clip" else "hatrpo", env=env)
    learner = make_train(config).learner
    params, opt, batch = setup(learner)
    keys = jax.random.split(jax.random.PRNGKey(4), 4)
    update = jax.jit(jax.vmap(lambda k: learner.update_actor(params, opt, batch, k)))
    new_params, _, metrics = update(keys)

    def ratio_and_kl(new):
        old_lp, old_out = joint_log_probs(learner, params, batch)
        new_lp, new_out = joint_log_probs(learner, new, batch)
        kl = learner.head.kl(old_out, new_out, batch.avail).mean(axis=(1, 2))
        return jnp.exp(new_lp - old_lp), kl  # [A, T, N], [A]

    ratios, kls = jax.jit(jax.vmap(ratio_and_kl))(new_params)
    orders = np.asarray(metrics["order"])
    for s, order in enumerate(orders):
        ratio, kl = np.asarray(ratios[s]), np.asarray(kls[s])
        np.testing.assert_allclose(metrics["kl"][s], kl, rtol=2e-3, atol=1e-7)
        m = np.ones(ratio.shape[1:])
        for agent in order:
            np.testing.assert_allclose(metrics["factor_min"][s, agent], m.min(), rtol=1e-4)
            np.testing.assert_allclose(metrics["factor_max"][s, agent], m.max(), rtol=1e-4)
            m = m * ratio[agent]
        assert np.all(metrics["kl"][s] > 0)  # every agent moved
    if step == "trust_region":
        assert np.all(metrics["kl"] <= config.kl_threshold * (1 + 1e-3))
        assert set(np.unique(metrics["step_accepted"])) <= {0, 1}
        fraction = np.asarray(metrics["step_fraction"])
        assert np.all((fraction >= 0) & (fraction <= 1))
    if learner.num_agents > 2:
        assert len({tuple(o) for o in orders.tolist()}) > 1


@pytest.mark.slow
@pytest.mark.parametrize("step", ["clip", "trust_region"])
def test_one_agent_sequential_equals_simultaneous(step):
    """HAPPO == PPO and HATRPO == TRPO when there is a single agent."""
    results = []
    for scheme in ("sequential", "simultaneous"):
        config = tiny_config(
            env="MPE_simple_v3", algo="happo", scheme=scheme, step=step, share_params=False
        )
        learner = make_train(config).learner
        params, opt, batch = setup(learner)
        new, _, metrics = jax.jit(learner.update_actor)(params, opt, batch, jax.random.PRNGKey(4))
        results.append((new, metrics))
    (seq, seq_m), (sim, sim_m) = results
    for a, b in zip(jax.tree.leaves(seq), jax.tree.leaves(sim), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(seq_m["kl"], sim_m["kl"], rtol=1e-4, atol=1e-8)
    assert float(seq_m["kl"][0]) > 0


def test_sequential_scheme_refuses_shared_parameters():
    with pytest.raises(ValueError, match="share_params.*distinct agents"):
        tiny_config(algo="happo", share_params=True).validate()
    with pytest.raises(ValueError, match="share_params"):
        tiny_config(algo="mappo", scheme="sequential").validate()
    tiny_config(algo="mappo", step="trust_region").validate()  # simultaneous TR is fine
