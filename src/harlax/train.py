"""One compiled program per run, and the host loop that drives it.

`make_train(config)` closes over everything static and returns pure functions:
`init(key) -> LearnerState` and `run_chunk(state) -> (state, metrics)`, where a chunk is a
`lax.scan` over `updates_per_chunk` updates. Seeds are a vmap axis. The host loop
between chunks only logs and saves; nothing per step crosses to Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harlax import returns
from harlax.algos.onpolicy import OnPolicyLearner
from harlax.config import Config, Derived, derive
from harlax.distributions import make_head
from harlax.envs.registry import make_env
from harlax.logging import (
    MetricsWriter,
    ProgressBar,
    episode_returns,
    make_run_dir,
    save_params,
)
from harlax.nets import make_nets
from harlax.types import LearnerState, PyTree, RunnerState


@dataclass(frozen=True)
class TrainProgram:
    """The pure pieces of a run (unbatched over seeds; see `seed_keys`)."""

    config: Config
    derived: Derived
    env: Any
    learner: OnPolicyLearner
    init: Callable[[jax.Array], LearnerState]
    run_chunk: Callable[[LearnerState], tuple[LearnerState, dict]]


@dataclass
class TrainResult:
    """What `train` returns. Arrays have a leading seed axis."""

    params: dict[str, PyTree]  # {"actor": ..., "critic": ...} as numpy
    metrics: dict[str, np.ndarray]  # name -> [num_seeds, num_updates, ...]
    config: Config
    run_dir: Path | None


def make_train(config: Config) -> TrainProgram:
    """Validate `config` (raises ValueError before any compilation) and build the program."""
    derived = derive(config)
    env = make_env(config.env, **config.env_kwargs)
    if derived.family == "offpolicy":  # MADDPG / DDPG: the learner builds its own nets
        from harlax.algos.maddpg import MADDPGLearner

        offpolicy = MADDPGLearner(config, derived, env)
        return TrainProgram(config, derived, env, offpolicy, offpolicy.init,
                            lambda state: jax.lax.scan(lambda s, _: offpolicy.update(s), state,
                                                       None, length=config.updates_per_chunk))
    spec = env.spec
    actor, critic = make_nets(spec, config, derived.share_params,
                              central_critic=derived.critic == "central_v")
    learner = OnPolicyLearner(config, derived, env, actor, critic, make_head(spec.discrete))

    def init(key: jax.Array) -> LearnerState:
        actor_key, critic_key, env_key, state_key = jax.random.split(key, 4)
        actor_params = actor.init(actor_key)
        critic_params = critic.init(critic_key)
        actor_opt, critic_opt = learner.init_opt_states(actor_params, critic_params)
        env_state = jax.vmap(env.reset)(jax.random.split(env_key, config.num_envs))
        runner = RunnerState(
            env_state=env_state, first=jnp.ones(config.num_envs, bool),
            actor_hidden=actor.initial_hidden(config.num_envs),
            critic_hidden=critic.initial_hidden(config.num_envs))
        return LearnerState(
            actor_params=actor_params, critic_params=critic_params,
            actor_opt_state=actor_opt, critic_opt_state=critic_opt,
            value_norm=returns.value_norm_init(), runner=runner, key=state_key,
            update=jnp.zeros((), jnp.int32))

    def run_chunk(state: LearnerState) -> tuple[LearnerState, dict]:
        return jax.lax.scan(lambda s, _: learner.update(s), state, None,
                            length=config.updates_per_chunk)

    return TrainProgram(config, derived, env, learner, init, run_chunk)


def seed_keys(config: Config) -> jax.Array:
    """`[num_seeds]` keys: seed i of a run is the same whatever num_seeds is."""
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(config.seed), i))(
        jnp.arange(config.num_seeds))


def compile_program(program: TrainProgram):
    """jit(vmap(...)) over seeds: `(init, run_chunk)` on `[num_seeds, ...]` states."""
    init = jax.jit(jax.vmap(program.init))
    run_chunk = jax.jit(jax.vmap(program.run_chunk), donate_argnums=0)
    return init, run_chunk


def train(config: Config, run_dir: str | Path | None = None, write: bool = True) -> TrainResult:
    """Train `config.num_seeds` seeds in one program; log, and write the run directory.

    With `write=False` nothing touches the disk (`run_dir` of the result is None).
    """
    program = make_train(config)
    derived = program.derived
    init, run_chunk = compile_program(program)
    directory = make_run_dir(config, run_dir) if write else None
    writer = MetricsWriter(directory, config, program.env.spec) if write else None

    state = init(seed_keys(config))
    chunks: list[dict[str, np.ndarray]] = []
    steps_per_chunk = derived.steps_per_update * config.updates_per_chunk
    with ProgressBar(config.total_steps, enabled=config.progress) as bar:
        start = time.perf_counter()
        pending = None
        for chunk in range(derived.num_chunks + 1):
            # Dispatch the next chunk before reading the previous one's metrics, so the
            # device never waits for the host.
            if chunk < derived.num_chunks:
                state, metrics = run_chunk(state)
            if pending is not None:
                host = jax.device_get(pending)
                chunks.append(host)
                first_update = (chunk - 1) * config.updates_per_chunk
                if writer is not None:
                    writer.write_chunk(host, first_update, derived.steps_per_update)
                done_steps = chunk * steps_per_chunk
                bar.update(done_steps, done_steps / (time.perf_counter() - start),
                           _latest_return(host))
            pending = metrics if chunk < derived.num_chunks else None
    if writer is not None:
        writer.close()
    metrics = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]}
    params = jax.device_get({"actor": state.actor_params, "critic": state.critic_params,
                             "value_norm": state.value_norm._asdict()})
    if directory is not None:
        save_params(directory, params)
    return TrainResult(params=params, metrics=metrics, config=config, run_dir=directory)


def _latest_return(host_metrics: dict[str, np.ndarray]) -> float:
    """Mean over seeds of the chunk's mean episode return (NaN if no episode ended)."""
    values = episode_returns(host_metrics)
    if not np.isfinite(values).any():
        return float("nan")
    return float(np.nanmean(values))
