"""MaMuJoCo through the adapter and the trainer: padding of heterogeneous agents, and tiny
end-to-end MAPPO and HAPPO runs (``harlax.train``) on ``mamujoco:`` scenarios."""

from __future__ import annotations

import numpy as np
import pytest

_EXTRA = "MaMuJoCo needs the 'mujoco' extra: pip install 'harlax[mujoco]'"
for _module in ("mujoco", "mujoco.mjx", "gymnasium"):
    pytest.importorskip(_module, reason=f"{_module} is not installed; {_EXTRA}")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from opsutil import tiny_config  # noqa: E402

import harlax  # noqa: E402
from harlax.envs.registry import make_env  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def cheap_compiles():
    """XLA's cheapest compilation for this module: the programs here run a few steps, and
    MJX physics (RK4 stages unrolled, each with collisions and a constraint solve) makes
    compilation the whole cost of these tests."""
    previous = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


TINY = tiny_config()


def test_adapter_pads_heterogeneous_agents():
    """HalfCheetah-6x1 (k=1): end joints see fewer neighbours, so observations are padded."""
    env = make_env("mamujoco:HalfCheetah-6x1")
    raw, spec = env.env, env.spec
    sizes = tuple(raw.observation_space(a).shape[0] for a in raw.agents)
    assert spec.obs_dims == sizes and len(set(sizes)) > 1
    assert spec.action_dims == (1,) * 6 and not spec.discrete
    assert spec.state_dim == 17 and spec.max_steps == 1000  # Gymnasium HalfCheetah-v5

    state = jax.jit(env.reset)(jax.random.key(0))
    obs = state.observation
    assert obs.obs.shape == (6, max(sizes)) and obs.state.shape == (17,)
    raw_obs = raw.get_obs(state.env_state)
    for i, agent in enumerate(raw.agents):
        np.testing.assert_array_equal(obs.obs[i, : sizes[i]], raw_obs[agent])
        np.testing.assert_array_equal(obs.obs[i, sizes[i] :], 0.0)
    np.testing.assert_array_equal(obs.state, raw_obs["world_state"])


@pytest.mark.slow
def test_adapter_auto_reset_reports_truncation():
    """``jit(vmap(adapter.step))``: the time limit is a truncation, with the true final
    observation kept for bootstrapping, and the episode restarts from a fresh reset."""
    env = make_env("mamujoco:HalfCheetah-2x3", max_steps=3)
    batch, steps = 2, 4
    actions = jnp.zeros((batch, env.spec.num_agents, env.spec.action_dim))

    @jax.jit
    def run(key):
        state = jax.vmap(env.reset)(jax.random.split(key, batch))

        def body(state, key):
            next_state, info = jax.vmap(env.step)(jax.random.split(key, batch), state, actions)
            return next_state, (info, next_state.episode_length, next_state.observation.obs)

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1]

    info, length, obs = jax.tree.map(np.asarray, run(jax.random.key(0)))
    expected = np.zeros((steps, batch), bool)
    expected[2] = True  # the third step hits max_steps=3
    np.testing.assert_array_equal(info.truncated, expected)
    np.testing.assert_array_equal(info.terminated, False)  # HalfCheetah never terminates
    np.testing.assert_array_equal(info.episode_length[:, 0], [1, 2, 3, 1])
    np.testing.assert_array_equal(length[:, 0], [1, 2, 0, 1])
    # Before a truncation the next observation is the step's own; at it, a fresh reset's.
    np.testing.assert_array_equal(info.final.obs[:2], obs[:2])
    assert np.all(np.abs(info.final.obs[2] - obs[2]).max(axis=(1, 2)) > 0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "algo, scenario, team_critic",
    [("mappo", "HalfCheetah-2x3", None), ("happo", "HalfCheetah-6x1", "mean")],
)
def test_tiny_training_run(algo, scenario, team_critic):
    """Two updates of the one compiled program on MJX physics: finite losses, moved policies
    (HAPPO with the team critic of HARL's MaMuJoCo presets)."""
    config = TINY.replace(
        algo=algo,
        env=f"mamujoco:{scenario}",
        env_kwargs={"agent_obsk": 1},
        team_critic=team_critic,
    )
    result = harlax.train(config, write=False)
    m = result.metrics
    num_agents = make_env(config.env, agent_obsk=1).spec.num_agents
    assert m["actor_loss"].shape == (1, 2, num_agents)
    for name in ("critic_loss", "actor_loss", "actor_entropy", "reward_mean"):
        assert np.isfinite(m[name]).all(), name
    # HalfCheetah never terminates and 2 x 8 steps are far from the time limit.
    assert np.all(m["episodes"] == 0)
    # The reward includes -0.1 * |a|^2 < 0 for random actions and a small forward term.
    assert np.all(np.abs(m["reward_mean"]) < 10.0)
    # Every agent's policy moved in every update (HAPPO: each in its turn of the sequence).
    assert np.all(m["actor_kl"] > 0)
