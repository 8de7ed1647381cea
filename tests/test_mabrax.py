"""MABrax scenarios through make_env: heterogeneous sizes, the robot's full observation as
the critic state, truncation at the episode limit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harlax.config import Config
from harlax.envs.mabrax import brax_available
from harlax.envs.registry import make_env

pytestmark = pytest.mark.skipif(
    not brax_available(), reason="MABrax needs the optional extra: pip install 'harlax[mabrax]'"
)


@pytest.mark.slow  # compiles a Brax step (minutes on a loaded 2-core CPU)
def test_halfcheetah_sizes_state_and_truncation():
    env = make_env("halfcheetah_6x1", episode_length=3)
    spec = env.spec
    assert spec.obs_dims == (9, 9, 8, 9, 9, 8) and spec.action_dims == (1,) * 6
    assert not spec.discrete and spec.max_steps == 3
    state = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    flags = []
    for i in range(4):
        state, info = step(jax.random.PRNGKey(i), state, jnp.full((6, 1), 0.3))
        flags.append((bool(info.terminated), bool(info.truncated)))
        inner = env.env.inner
        if i < 2:  # the critic sees the underlying robot's full observation
            robot_obs = state.env_state.obs
            np.testing.assert_array_equal(state.observation.state, robot_obs)
            agents = inner.get_obs(state.env_state)
            for a, name in enumerate(spec.agents):
                d = spec.obs_dims[a]
                np.testing.assert_array_equal(state.observation.obs[a, :d], agents[name])
    assert flags[2] == (False, True)  # the time limit truncates (bootstrap), not terminates
    assert flags[3] == (False, False)  # and the adapter reset the episode


def test_humanoid_agents_act_in_different_dimensions():
    spec = make_env("humanoid_9|8").spec
    assert spec.action_dims == (9, 8)
    assert spec.action_mask().sum(axis=1).tolist() == [9, 8]


def test_mabrax_names_validate():
    config = Config(algo="hatrpo", env="halfcheetah_6x1", env_kwargs={"episode_length": 10})
    config.replace(total_steps=64 * 128 * 8).validate()
