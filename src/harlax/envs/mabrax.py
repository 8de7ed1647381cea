"""MABrax (JaxMARL's multi-agent Brax robots) as a harlax environment.

JaxMARL splits one Brax robot into agents, each seeing part of the robot's observation and
moving some of its joints (`halfcheetah_6x1`: six agents of one joint, seeing 8 or 9 numbers;
`humanoid_9|8`: two agents acting in 9 and 8 dimensions). This wrapper makes three changes
for harlax: the critic's global state (`world_state`) is the full observation of the
robot; the Brax auto-reset is switched off (the adapter resets and keeps the true final
observation); and Brax's time-limit flag becomes `truncated` (bootstrap) vs `terminated`
(the robot fell). Needs the optional extra: `pip install 'harlax[mabrax]'` (brax).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

from jaxmarl.environments.multi_agent_env import MultiAgentEnv

from harlax.envs.jaxmarl import WORLD_STATE_KEY
from harlax.types import Array

SCENARIOS = ("ant_4x2", "halfcheetah_6x1", "hopper_3x1", "humanoid_9|8", "walker2d_2x3")
INSTALL_FIX = "pip install 'harlax[mabrax]' (installs brax)"


def brax_available() -> bool:
    try:
        import brax  # noqa: F401
    except ImportError:
        return False
    return True


class MABraxTeam(MultiAgentEnv):
    """A MABrax scenario with the robot's full observation as `world_state`."""

    def __init__(self, scenario: str, episode_length: int = 1000, **kwargs: Any):
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # JaxMARL's and Brax's deprecation notices
            from jaxmarl.environments.mabrax.mabrax_env import MABraxEnv

            self.inner = MABraxEnv(
                scenario, episode_length=episode_length, auto_reset=False, **kwargs
            )
        super().__init__(num_agents=self.inner.num_agents)
        self.agents = list(self.inner.agents)
        self.max_steps = episode_length
        self.observation_spaces = self.inner.observation_spaces
        self.action_spaces = self.inner.action_spaces

    def _with_state(self, obs: dict[str, Array], brax_state: Any) -> dict[str, Array]:
        return {**obs, WORLD_STATE_KEY: brax_state.obs}

    def reset(self, key: Array):
        obs, state = self.inner.reset(key)
        return self._with_state(obs, state), state

    def step_env(self, key: Array, state: Any, actions: dict[str, Array]):
        obs, state, rewards, dones, _ = self.inner.step_env(key, state, actions)
        done = dones["__all__"]
        truncated = done & (state.info["truncation"] > 0)
        info = {"terminated": done & ~truncated, "truncated": truncated}
        return self._with_state(obs, state), state, rewards, dones, info


def make_mabrax(scenario: str, **kwargs: Any) -> MABraxTeam:
    if not brax_available():
        raise ValueError(f"Config.env: {scenario!r} is a MABrax scenario. Fix: {INSTALL_FIX}")
    return MABraxTeam(scenario, **kwargs)


# ---------------------------------------------------------------------- registry family
def names() -> list[str]:
    return list(SCENARIOS)


def check(name: str, env_kwargs: dict) -> None:
    if not brax_available():
        raise ValueError(f"Config.env: {name!r} is a MABrax scenario. Fix: {INSTALL_FIX}")


def make(name: str, **kwargs: Any) -> MABraxTeam:
    return make_mabrax(name, **kwargs)
