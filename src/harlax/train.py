"""One compiled program per run, and the host loop that drives it.

`make_train(config)` closes over everything static and returns pure functions:
`init(key) -> LearnerState` and `run_chunk(state) -> (state, metrics)`, where a chunk is a
`lax.scan` over `updates_per_chunk` updates. Seeds are a vmap axis. The host loop
between chunks only logs and saves; nothing per step crosses to Python.
"""

from __future__ import annotations

import dataclasses
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
from harlax.checkpoint import Checkpointer
from harlax.config import Config, Derived, derive
from harlax.distributions import make_head
from harlax.envs.registry import make_env
from harlax.evaluate import Evaluation
from harlax.guard import check_chunk, params_finite
from harlax.logging import (
    CONFIG_FILE,
    MetricsWriter,
    ProgressBar,
    episode_returns,
    make_run_dir,
    save_params,
)
from harlax.nets import make_nets, make_q_critic
from harlax.parallel import is_main_process, make_mesh, replicate, replicated, state_shardings
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
    evaluation: dict | None = None  # greedy evaluation: see `harlax.evaluate.Evaluation`


def make_train(config: Config, derived: Derived | None = None) -> TrainProgram:
    """Validate `config` (raises ValueError before any compilation) and build the program.

    Passing `derived` skips validation: `harlax.sweep` builds programs whose float
    hyperparameters are traced values (validated beforehand, one value at a time)."""
    derived = derive(config) if derived is None else derived
    env = make_env(config.env, **config.env_kwargs)
    if derived.family == "offpolicy":  # MADDPG / DDPG: the learner builds its own nets
        from harlax.algos.maddpg import MADDPGLearner

        offpolicy = MADDPGLearner(config, derived, env)
        return TrainProgram(
            config,
            derived,
            env,
            offpolicy,
            offpolicy.init,
            lambda state: jax.lax.scan(
                lambda s, _: offpolicy.update(s), state, None, length=config.updates_per_chunk
            ),
        )
    spec = env.spec
    actor, critic = make_nets(
        spec, config, derived.share_params, central_critic=derived.critic == "central_v"
    )
    if derived.critic == "central_q":
        critic = make_q_critic(spec, config)
    learner = OnPolicyLearner(config, derived, env, actor, critic, make_head(spec.discrete))

    def init(key: jax.Array) -> LearnerState:
        actor_key, critic_key, env_key, state_key = jax.random.split(key, 4)
        actor_params = actor.init(actor_key)
        critic_params = critic.init(critic_key)
        actor_opt, critic_opt = learner.init_opt_states(actor_params, critic_params)
        env_state = jax.vmap(env.reset)(jax.random.split(env_key, config.num_envs))
        runner = RunnerState(
            env_state=env_state,
            first=jnp.ones(config.num_envs, bool),
            actor_hidden=actor.initial_hidden(config.num_envs),
            critic_hidden=critic.initial_hidden(config.num_envs),
        )
        return LearnerState(
            actor_params=actor_params,
            critic_params=critic_params,
            actor_opt_state=actor_opt,
            critic_opt_state=critic_opt,
            value_norm=returns.value_norm_init(),
            runner=runner,
            key=state_key,
            update=jnp.zeros((), jnp.int32),
        )

    def run_chunk(state: LearnerState) -> tuple[LearnerState, dict]:
        return jax.lax.scan(
            lambda s, _: learner.update(s), state, None, length=config.updates_per_chunk
        )

    return TrainProgram(config, derived, env, learner, init, run_chunk)


def seed_keys(config: Config) -> jax.Array:
    """`[num_seeds]` keys: index i of a run is seed `config.seed + i`, the same program
    state as a one-seed run with that seed (and the seed the metrics CSV reports)."""
    return jax.vmap(jax.random.PRNGKey)(config.seed + jnp.arange(config.num_seeds))


def compile_program(program: TrainProgram):
    """jit(vmap(...)) over seeds: `(init, run_chunk)` on `[num_seeds, ...]` states."""
    init = jax.jit(jax.vmap(program.init))
    run_chunk = jax.jit(jax.vmap(program.run_chunk), donate_argnums=0)
    return init, run_chunk


def compile_checked(program: TrainProgram, mesh: jax.sharding.Mesh):
    """Like `compile_program`, on a device mesh (see `harlax.parallel`), and
    `run_chunk(state) -> (state, metrics, finite)`, where `finite` maps each `*params`
    field of the state to `[num_seeds]` bool (NaN guard). Returns `(init, run_chunk,
    state shardings)`."""

    def chunk(state):
        state, metrics = program.run_chunk(state)
        return state, metrics, params_finite(state)

    like = jax.eval_shape(jax.vmap(program.init), seed_keys(program.config))
    shardings, full = state_shardings(like, mesh), replicated(mesh)
    init = jax.jit(jax.vmap(program.init), in_shardings=full, out_shardings=shardings)
    run_chunk = jax.jit(
        jax.vmap(chunk),
        in_shardings=(shardings,),
        out_shardings=(shardings, full, full),
        donate_argnums=0,
    )
    return init, run_chunk, shardings


# Output-only fields: they do not change the compiled program, so runs that differ only
# in these (a run and its resumption, a sweep's seeds) share one compilation.
_OUTPUT_FIELDS = (
    "out",
    "progress",
    "checkpoint_every",
    "keep_checkpoints",
    "eval_every",
    "eval_episodes",
    "final_eval_episodes",
    "seed",
)
_COMPILED: dict[str, tuple] = {}


def compiled(config: Config) -> tuple[TrainProgram, Callable, Callable, PyTree]:
    """`(program, init, run_chunk, shardings)` of `compile_checked`, cached per
    program-relevant config."""
    derive(config)  # validate before anything is built
    defaults = Config()
    key = config.replace(**{f: getattr(defaults, f) for f in _OUTPUT_FIELDS}).to_json()
    if key not in _COMPILED:
        program = make_train(config)
        _COMPILED[key] = (program, *compile_checked(program, make_mesh(config.num_devices)))
        while len(_COMPILED) > 4:
            _COMPILED.pop(next(iter(_COMPILED)))
    program, *functions = _COMPILED[key]
    if program.config != config:  # same program; keep the caller's output settings
        program = dataclasses.replace(program, config=config)
    return program, *functions


def train(
    config: Config,
    run_dir: str | Path | None = None,
    write: bool = True,
    stop_after: int | None = None,
) -> TrainResult:
    """Train `config.num_seeds` seeds in one program; log, evaluate, checkpoint, and write
    the run directory (see `harlax.logging`).

    With `write=False` nothing touches the disk (`run_dir` of the result is None).
    `stop_after`: stop (with a checkpoint) after this many updates; `resume` continues.
    """
    derive(config)
    directory = None
    if write and jax.process_count() > 1:
        # Multi-host: process 0 creates the (shared) directory; the others wait for it.
        from jax.experimental import multihost_utils

        if run_dir is None and config.out is None:
            raise ValueError(
                "Config.out: a multi-process run needs an explicit run directory "
                "on a filesystem all processes share. Fix: set out"
            )
        if is_main_process():
            directory = make_run_dir(config, run_dir)
        multihost_utils.sync_global_devices("harlax: run directory")
        directory = Path(run_dir if run_dir is not None else config.out)
    elif write:
        directory = make_run_dir(config, run_dir)
    return _run(config, directory, None, 0, stop_after)


def resume(run_dir: str | Path, stop_after: int | None = None) -> TrainResult:
    """Continue the run in `run_dir` from its latest checkpoint with its stored config.

    Bit-identical on one machine to a run that never stopped. `TrainResult.metrics` holds
    the updates of this call; `metrics.csv` holds the whole run.
    """
    directory = Path(run_dir)
    config = Config.from_json((directory / CONFIG_FILE).read_text())
    program, _, _, shardings = compiled(config)
    like = jax.eval_shape(jax.vmap(program.init), seed_keys(config))
    checkpointer = Checkpointer(directory, config.keep_checkpoints)
    try:
        update = checkpointer.latest()
        if update is None:
            raise FileNotFoundError(f"resume: no complete checkpoint in {checkpointer.directory}")
        state = checkpointer.restore(like, update, shardings)
    finally:
        checkpointer.close()
    return _run(config, directory, state, update, stop_after)


def _run(
    config: Config,
    directory: Path | None,
    state: LearnerState | None,
    start_update: int,
    stop_after: int | None,
) -> TrainResult:
    """The host loop: dispatch chunks, and between them log, check, evaluate and save."""
    program, init, run_chunk, shardings = compiled(config)
    derived = program.derived
    per_chunk = config.updates_per_chunk
    if stop_after is not None and (stop_after < 1 or stop_after % per_chunk):
        raise ValueError(
            f"stop_after={stop_after} must be a positive multiple of updates_per_chunk={per_chunk}"
        )
    end_update = derived.num_updates
    if stop_after is not None:
        end_update = min(end_update, start_update + stop_after)
    writer = checkpointer = None
    main = is_main_process()  # only process 0 writes files; all take part in checkpoints
    if directory is not None:
        writer = MetricsWriter(directory, config, program.env.spec, start_update) if main else None
        checkpointer = Checkpointer(directory, config.keep_checkpoints)
    evaluation = None
    if config.eval_every:
        evaluation = Evaluation(program, directory if main else None, start_update)
    if state is None:
        state = init(replicate(seed_keys(config), jax.tree.leaves(shardings)[0].mesh))
    else:
        state = jax.device_put(state, shardings)
    chunks: list[dict[str, np.ndarray]] = []

    def finish(chunk: int, metrics: dict, finite: dict) -> None:
        host = jax.device_get(metrics)
        check_chunk(host, jax.device_get(finite), chunk * per_chunk, config.seed)
        chunks.append(host)
        if writer is not None:
            writer.write_chunk(host, chunk * per_chunk, derived.steps_per_update)
        done_steps = (chunk + 1) * per_chunk * derived.steps_per_update
        bar.update(
            done_steps,
            (done_steps - start_steps) / (time.perf_counter() - start),
            _latest_return(host),
        )

    start_steps = start_update * derived.steps_per_update
    try:
        with ProgressBar(config.total_steps, enabled=config.progress) as bar:
            bar.update(start_steps, 0.0, float("nan"))
            start = time.perf_counter()
            pending = None
            for chunk in range(start_update // per_chunk, end_update // per_chunk):
                # Dispatch the next chunk before reading the previous one's metrics, so the
                # device never waits for the host.
                state, metrics, finite = run_chunk(state)
                if pending is not None:
                    finish(*pending)
                pending = (chunk, metrics, finite)
                done = (chunk + 1) * per_chunk
                save = checkpointer is not None and (
                    done == end_update
                    or (config.checkpoint_every and done % config.checkpoint_every == 0)
                )
                evaluate_now = evaluation is not None and done % config.eval_every == 0
                if save or evaluate_now or done == end_update:
                    # Only a checked state is saved or evaluated.
                    finish(*pending)
                    pending = None
                if evaluate_now:
                    evaluation.periodic(state.actor_params, done, derived.steps_per_update)
                if save:
                    checkpointer.save(done, state)
        if evaluation is not None and end_update == derived.num_updates:
            evaluation.final(state.actor_params, derived.steps_per_update * end_update)
    finally:
        if checkpointer is not None:
            checkpointer.wait()
            checkpointer.close()
        if writer is not None:
            writer.close()
    metrics = (
        {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]} if chunks else {}
    )
    params = jax.device_get(
        {
            "actor": state.actor_params,
            "critic": state.critic_params,
            "value_norm": state.value_norm._asdict(),
        }
    )
    if directory is not None and main:
        save_params(directory, params)
    return TrainResult(
        params=params,
        metrics=metrics,
        config=config,
        run_dir=directory,
        evaluation=None if evaluation is None else evaluation.summary(),
    )


def _latest_return(host_metrics: dict[str, np.ndarray]) -> float:
    """Mean over seeds of the chunk's mean episode return (NaN if no episode ended)."""
    values = episode_returns(host_metrics)
    if not np.isfinite(values).any():
        return float("nan")
    return float(np.nanmean(values))
