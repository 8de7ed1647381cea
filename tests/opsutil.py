"""Shared pieces of the host-side tests: a tiny real config and a fake training program.

The fake program has the `TrainProgram` interface (state pytree, `init`, `run_chunk`,
metrics with `episode_return_sum` and `episodes`) but compiles in a fraction of a second,
so the host loop (checkpoints, resume, NaN guard) is tested without the on-policy learner.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp

import harlax
from harlax import returns
from harlax.config import derive
from harlax.envs.spec import MultiAgentSpec
from harlax.train import TrainProgram
from harlax.types import LearnerState

# The real learner on the one-step climbing game: the cheapest program to compile.
TINY_REAL = harlax.Config(
    algo="mappo",
    env="matrix:climbing",
    total_steps=256,
    num_envs=8,
    rollout_length=8,
    num_epochs=1,
    num_minibatches=2,
    updates_per_chunk=1,
    hidden_dim=16,
    num_seeds=2,
    progress=False,
)

TINY_FAKE = harlax.Config(
    total_steps=48,
    num_envs=4,
    rollout_length=2,
    updates_per_chunk=1,
    num_minibatches=1,
    num_seeds=2,
    progress=False,
)  # 6 updates


class _Env:
    spec = MultiAgentSpec(
        agents=("a", "b"),
        obs_dims=(1, 1),
        action_dims=(2, 2),
        discrete=True,
        state_dim=1,
        max_steps=1,
    )


def fake_program(config: harlax.Config, poison_at: int | None = None) -> TrainProgram:
    """A random walk of 'parameters'; at update `poison_at` they become NaN."""
    derived = derive(config)

    def init(key):
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

    def update(state):
        key, sub = jax.random.split(state.key)
        w = 0.9 * state.actor_params["w"] + jax.random.normal(sub, (3,))
        if poison_at is not None:
            w = jnp.where(state.update + 1 == poison_at, jnp.nan, w)
        metrics = {
            "episode_return_sum": jnp.sum(w),
            "episodes": jnp.ones((), jnp.int32),
            "loss": jnp.mean(w**2) * 0 + 1.0,
        }
        return state._replace(actor_params={"w": w}, key=key, update=state.update + 1), metrics

    def run_chunk(state):
        return jax.lax.scan(lambda s, _: update(s), state, None, length=config.updates_per_chunk)

    return TrainProgram(config, derived, _Env(), None, init, run_chunk)


def use_fake_program(monkeypatch, poison_at: int | None = None) -> None:
    """Make `harlax.train` build `fake_program` (and not reuse cached real programs)."""
    module = sys.modules["harlax.train"]
    monkeypatch.setattr(module, "make_train", lambda c: fake_program(c, poison_at))
    monkeypatch.setattr(module, "_COMPILED", {})
