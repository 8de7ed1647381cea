"""Shared pieces of the tests: the one tiny config (`tiny_config`, also the `tiny` fixture
of conftest.py), a fake training program, and tiny environments and policies (DuelEnv:
SMAX's deaths and wins in two steps; Constant).

The fake program is a `TrainProgram` of a fake learner (the learner protocol: state
pytree, `init`, `update` with `episode_return_sum` and `episodes`, `exported`) that
compiles in a fraction of a second, so the host loop (checkpoints, resume, NaN guard) is
tested without the on-policy learner.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxmarl.environments import spaces
from jaxmarl.environments.multi_agent_env import MultiAgentEnv

import harlax
from harlax import returns
from harlax.envs.spec import MultiAgentSpec
from harlax.train import TrainProgram
from harlax.types import LearnerState
from harlax.validation import derive

TINY_FIELDS = dict(
    num_envs=4,
    rollout_length=8,
    total_steps=64,
    updates_per_chunk=1,
    hidden_dim=16,
    progress=False,
)
"""Any algorithm: 2 updates of 4 environments x 8 steps, one update per compiled chunk, a
16-unit network, no progress bar."""

TINY_ONPOLICY_FIELDS = dict(num_epochs=1, num_minibatches=2)
"""On-policy learners only (PPO epochs and minibatches; MADDPG has neither)."""


def tiny_fields(onpolicy: bool = True, **overrides) -> dict:
    """The tiny settings as a dict (for `Config(**...)` or `preset.replace(**...)`), with
    `overrides` on top. `onpolicy=False` leaves out the on-policy fields (MADDPG, DDPG)."""
    base = {**TINY_FIELDS, **(TINY_ONPOLICY_FIELDS if onpolicy else {})}
    return {**base, **overrides}


def tiny_config(**overrides) -> harlax.Config:
    """The one tiny on-policy Config of the tests (the default algorithm and environment),
    with `overrides` on top: a test that needs particular values names them here."""
    return harlax.Config(**tiny_fields(**overrides))


# The real learner on the one-step climbing game: the cheapest program to compile.
TINY_REAL = tiny_config(
    algo="mappo", env="matrix:climbing", total_steps=256, num_envs=8, num_seeds=2
)  # 4 updates

# For the fake program (which has no network nor epochs): 6 updates.
TINY_FAKE = tiny_config(total_steps=48, rollout_length=2, num_minibatches=1, num_seeds=2)


class _Env:
    spec = MultiAgentSpec(
        agents=("a", "b"),
        obs_dims=(1, 1),
        action_dims=(2, 2),
        discrete=True,
        state_dim=1,
        max_steps=1,
    )


class FakeLearner:
    """The learner protocol (`harlax.learner.Learner`) on a random walk of 'parameters';
    at update `poison_at` they become NaN."""

    def __init__(self, config: harlax.Config, poison_at: int | None):
        self.config, self.derived, self.env = config, derive(config), _Env()
        self.poison_at = poison_at

    def init(self, key):
        return LearnerState(
            actor_params={"w": jax.random.normal(key, (3,))},
            critic_params={"v": jnp.zeros(2)},
            actor_opt_state=(),
            critic_opt_state=(),
            value_norm=returns.value_norm_init(),
            runner=jnp.zeros((4, 0)),
            key=key,
            update=jnp.zeros((), jnp.int32),
        )

    def update(self, state):
        key, sub = jax.random.split(state.key)
        w = 0.9 * state.actor_params["w"] + jax.random.normal(sub, (3,))
        if self.poison_at is not None:
            w = jnp.where(state.update + 1 == self.poison_at, jnp.nan, w)
        metrics = {
            "episode_return_sum": jnp.sum(w),
            "episodes": jnp.ones((), jnp.int32),
            "loss": jnp.mean(w**2) * 0 + 1.0,
        }
        return state._replace(actor_params={"w": w}, key=key, update=state.update + 1), metrics

    def policy_params(self, state):
        return state.actor_params

    def exported(self, state):
        return {"actor": state.actor_params, "critic": state.critic_params}


def fake_program(config: harlax.Config, poison_at: int | None = None) -> TrainProgram:
    """A `TrainProgram` of `FakeLearner`: compiles in a fraction of a second."""
    learner = FakeLearner(config, poison_at)
    return TrainProgram(config, learner.derived, learner.env, learner)


def use_fake_program(monkeypatch, poison_at: int | None = None) -> None:
    """Make `harlax.train` (and `harlax.load`) build `fake_program` (and not reuse cached
    real programs)."""
    fake = lambda c: fake_program(c, poison_at)  # noqa: E731
    for name in ("harlax.train", "harlax.runs"):
        monkeypatch.setattr(sys.modules[name], "make_train", fake)
    monkeypatch.setattr(sys.modules["harlax.train"], "_COMPILED", {})


class DuelState(NamedTuple):
    unit_alive: jax.Array  # [3] bool: ally_0, ally_1, enemy (SMAX's convention)
    step: jax.Array


class DuelEnv(MultiAgentEnv):
    """SMAX in miniature: allies first in `unit_alive`, per-agent dones = dead. ally_1
    dies at step 1; at step 2 the enemy dies (a win, reward 1) if ally_0 plays 1, else
    ally_0 dies (a loss, reward 0). Episodes last 2 steps."""

    num_allies = 2

    def __init__(self):
        super().__init__(num_agents=2)
        self.agents = ["ally_0", "ally_1"]
        self.max_steps = 10
        self.observation_spaces = {a: spaces.Box(0.0, 10.0, (1,)) for a in self.agents}
        self.action_spaces = {a: spaces.Discrete(2) for a in self.agents}

    def _obs(self, state):
        return {a: jnp.full((1,), state.step, jnp.float32) for a in self.agents}

    def reset(self, key):
        state = DuelState(jnp.ones(3, bool), jnp.zeros((), jnp.int32))
        return self._obs(state), state

    def step_env(self, key, state, actions):
        step = state.step + 1
        alive = state.unit_alive.at[1].set(False)
        win = (step == 2) & (actions["ally_0"] == 1)
        alive = jnp.where((step == 2) & win, alive.at[2].set(False), alive)
        alive = jnp.where((step == 2) & ~win, alive.at[0].set(False), alive)
        state = DuelState(alive, step)
        done = ~jnp.any(alive[:2]) | ~alive[2]
        dones = {a: ~alive[i] for i, a in enumerate(self.agents)} | {"__all__": done}
        rewards = {a: win.astype(jnp.float32) for a in self.agents}
        return self._obs(state), state, rewards, dones, {}


class Constant(nn.Module):
    """A 'policy' with fixed logits (always plays action 0 when `favour` is 0)."""

    favour: int = 0

    @nn.compact
    def __call__(self, hidden, x, first):
        self.param("unused", nn.initializers.zeros, (1,))
        logits = jnp.where(jnp.arange(2) == self.favour, 0.0, -1e9)
        return hidden, jnp.broadcast_to(logits, x.shape[:-1] + (2,))
