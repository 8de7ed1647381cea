"""The team critic (`Config.team_critic`, HARL's EP state): one value per environment step
from the global state alone, GAE on the team reward, the same advantage for every agent;
checked against the critic module applied by hand and a plain-Python GAE loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from opsutil import tiny_config
from test_returns import gae_reference

import harlax
from harlax import returns
from harlax.train import make_train

GAMMA, LAMBDA = 0.95, 0.9


@pytest.mark.parametrize("how", ["sum", "mean"])
def test_team_reward_combines_the_agents_rewards(how):
    rewards = np.random.default_rng(0).normal(size=(5, 4, 3)).astype(np.float32)
    expected = rewards.sum(-1) if how == "sum" else rewards.mean(-1)
    np.testing.assert_allclose(
        returns.team_reward(jnp.asarray(rewards), how)[..., 0], expected, rtol=1e-6
    )


def _learner_and_state(**overrides):
    config = tiny_config(
        algo="happo",
        team_critic="sum",
        value_norm=False,
        normalize_advantages=False,
        gamma=GAMMA,
        gae_lambda=LAMBDA,
        **overrides,
    )
    program = make_train(config)
    return program.learner, program.init(jax.random.PRNGKey(3))


def test_team_critic_values_the_state_once_per_step_and_shares_the_team_advantage():
    learner, state = _learner_and_state()
    key, rollout_key = jax.random.split(jax.random.PRNGKey(4))
    collected = jax.jit(learner.collect)(state, key, rollout_key)
    tr = collected.transitions
    t, b, a = tr.reward.shape
    assert a == 3 and learner.critic.num_agents == 1

    # The rollout's values are the critic module on the global state, nothing appended.
    rows = tr.obs.state.reshape(t * b, -1)
    _, by_hand = learner.critic.module.apply(state.critic_params, None, rows, None)
    assert tr.value.shape == (t, b, 1)
    np.testing.assert_allclose(tr.value[..., 0], by_hand.reshape(t, b), rtol=1e-5, atol=1e-6)

    # GAE of the summed reward, per environment, against a Python loop.
    team = np.asarray(tr.reward).sum(-1)
    last = np.asarray(learner.rollout(state.actor_params, state.critic_params, state.runner,
                                      rollout_key)[2])[..., 0]  # fmt: skip
    for env in range(b):
        ref_adv, ref_target = gae_reference(
            team[:, env],
            np.asarray(tr.value)[:, env, 0],
            np.asarray(tr.bootstrap_value)[:, env, 0],
            np.asarray(tr.terminated)[:, env],
            np.asarray(tr.truncated)[:, env],
            last[env],
            GAMMA,
            LAMBDA,
        )
        np.testing.assert_allclose(collected.target[:, env, 0], ref_target, rtol=1e-4, atol=1e-4)
        for agent in range(a):
            np.testing.assert_allclose(
                collected.advantage[:, env, agent], ref_adv, rtol=1e-4, atol=1e-4
            )
            np.testing.assert_allclose(collected.policy.advantage[agent, :, env], ref_adv,
                                       rtol=1e-4, atol=1e-4)  # fmt: skip

    # The critic trains on one row per step: `[1, T, B]`.
    assert collected.critic.x.shape == (1, t, b, rows.shape[-1])
    assert collected.critic.target.shape == (1, t, b)


@pytest.mark.parametrize("recurrent", [False, True])
def test_team_critic_trains(recurrent):
    learner, state = _learner_and_state(recurrent=recurrent)
    new_state, metrics = jax.jit(learner.update)(state)
    assert new_state.runner.critic_hidden.shape[1] == 1
    for name in ("critic_loss", "value_target_mean", "actor_kl"):
        assert np.all(np.isfinite(np.asarray(metrics[name]))), name
    moved = jax.tree.map(lambda x, y: np.abs(np.asarray(x) - np.asarray(y)).max(),
                         state.critic_params, new_state.critic_params)  # fmt: skip
    assert max(jax.tree.leaves(moved)) > 0


@pytest.mark.parametrize(
    "changes, needle",
    [
        (dict(team_critic="max"), "unknown value 'max'"),
        (dict(algo="mappo_ob", team_critic="sum"), "central V critic"),
        (dict(algo="ippo", team_critic="sum"), "central V critic"),
        (dict(algo="maddpg", learning_starts=1024, team_critic="sum"), "team_critic"),
    ],
)
def test_team_critic_is_refused_where_it_does_not_apply(changes, needle):
    with pytest.raises(ValueError, match="team_critic") as err:
        harlax.Config(**changes).validate()
    assert needle in str(err.value)
