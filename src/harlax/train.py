"""One compiled program per run, and the host loop that drives it.

`make_train(config)` builds the learner of the config's family (`LEARNERS`, see
`harlax.learner`) and returns a `TrainProgram` of pure functions: `init(key) -> state` and
`run_chunk(state) -> (state, metrics)`, where a chunk is a `lax.scan` over
`updates_per_chunk` updates (the run's last chunk may be shorter). Seeds are a vmap axis.
The host loop between chunks only logs and saves; nothing per step crosses to Python.
Operations on a finished run's directory (load, resume, evaluate) are in `harlax.runs`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harlax.checkpoint import Checkpointer
from harlax.checks import check
from harlax.compiling import compile_concurrently, jit, jit_once
from harlax.config import Config
from harlax.envs.registry import make_env
from harlax.evaluate import Evaluation
from harlax.guard import check_chunk, params_finite
from harlax.learner import Learner
from harlax.logging import (
    MetricsWriter,
    ProgressBar,
    episode_returns,
    make_run_dir,
    save_params,
)
from harlax.parallel import is_main_process, make_mesh, replicate, replicated, state_shardings
from harlax.types import PyTree
from harlax.validation import Derived


def _onpolicy(config: Config, derived: Derived, env) -> Learner:
    from harlax.algos.onpolicy import build_learner

    return build_learner(config, derived, env)


def _offpolicy(config: Config, derived: Derived, env) -> Learner:
    from harlax.algos.maddpg import MADDPGLearner

    return MADDPGLearner(config, derived, env)


# One row per learner family (`Derived.family`): `(config, derived, env) -> Learner`.
LEARNERS: dict[str, Callable[[Config, Derived, Any], Learner]] = {
    "onpolicy": _onpolicy,
    "offpolicy": _offpolicy,
}


@dataclass(frozen=True)
class TrainProgram:
    """The pure pieces of a run (unbatched over seeds; see `seed_keys`): the learner's
    `init(key) -> state` and `run_chunk(state, length) -> (state, metrics)`, a `lax.scan`
    over `length` updates (default: `derived.updates_per_chunk`)."""

    config: Config
    derived: Derived
    env: Any
    learner: Learner

    def init(self, key: jax.Array) -> PyTree:
        return self.learner.init(key)

    def run_chunk(self, state: PyTree, length: int | None = None) -> tuple[PyTree, dict]:
        length = self.derived.updates_per_chunk if length is None else length
        return jax.lax.scan(lambda s, _: self.learner.update(s), state, None, length=length)


@dataclass
class TrainResult:
    """What `train` returns. Arrays have a leading seed axis."""

    params: dict[str, PyTree]  # the learner's `exported` parameter sets, as numpy
    metrics: dict[str, np.ndarray]  # name -> [num_seeds, num_updates, ...]
    config: Config
    run_dir: Path | None
    evaluation: dict | None = None  # greedy evaluation: see `harlax.evaluate.Evaluation`
    # Wall-clock seconds of the run's phases: "setup" (building the program, directory,
    # writers), "compile" (init and every chunk length), "train" (the chunks, with logging,
    # evaluation and checkpoints between them).
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def make_train(config: Config, derived: Derived | None = None) -> TrainProgram:
    """Check `config` (raises ValueError before any compilation) and build the program.

    Passing `derived` skips the check: `harlax.sweep` builds programs whose float
    hyperparameters are traced values (validated beforehand, one value at a time)."""
    derived = check(config) if derived is None else derived
    env = make_env(config.env, **config.env_kwargs)
    learner = LEARNERS[derived.family](config, derived, env)
    return TrainProgram(config, derived, env, learner)


def seed_keys(config: Config) -> jax.Array:
    """`[num_seeds]` keys: index i of a run is seed `config.seed + i`, the same program
    state as a one-seed run with that seed (and the seed the metrics CSV reports)."""
    return jax.vmap(jax.random.PRNGKey)(config.seed + jnp.arange(config.num_seeds))


def compile_program(program: TrainProgram):
    """jit(vmap(...)) over seeds: `(init, run_chunk)` on `[num_seeds, ...]` states (chunks
    of the default length)."""
    init = jit_once(jax.vmap(program.init))
    recurrent = program.config.recurrent
    run_chunk = jit(jax.vmap(program.run_chunk), recurrent=recurrent, donate_argnums=0)
    return init, run_chunk


class CheckedChunks:
    """`run_chunk(state, length=None) -> (state, metrics, finite)` on a device mesh, where
    `finite` maps each `*params` field of the state to `[num_seeds]` bool (the NaN guard).

    One compiled executable per chunk length, made by `compile` (or on first use): a run
    whose updates do not divide into chunks compiles its shorter last chunk when it gets
    there. `abstract_state`: the state's shapes, dtypes and shardings, which is all that
    compiling needs."""

    def __init__(self, program: TrainProgram, shardings: PyTree, full, like: PyTree):
        self.program, self.shardings, self.full = program, shardings, full
        self.abstract_state = jax.tree.map(
            lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
            like,
            shardings,
        )
        self._executables: dict[int, Callable] = {}

    def _length(self, length: int | None) -> int:
        return self.program.derived.updates_per_chunk if length is None else length

    def compile(self, state: PyTree | None = None, length: int | None = None) -> float:
        """Compile the chunk of `length` updates for states like `state` (default:
        `abstract_state`); the seconds it took (0 when it was compiled before)."""
        length = self._length(length)
        if length in self._executables:
            return 0.0

        def chunk(state):
            state, metrics = self.program.run_chunk(state, length)
            return state, metrics, params_finite(state)

        start = time.perf_counter()
        self._executables[length] = (
            jit(
                jax.vmap(chunk),
                recurrent=self.program.config.recurrent,
                in_shardings=(self.shardings,),
                out_shardings=(self.shardings, self.full, self.full),
                donate_argnums=0,
            )
            .lower(self.abstract_state if state is None else state)
            .compile()
        )
        return time.perf_counter() - start

    def __call__(self, state: PyTree, length: int | None = None):
        length = self._length(length)
        self.compile(state, length)
        return self._executables[length](state)


def compile_checked(program: TrainProgram, mesh: jax.sharding.Mesh):
    """Like `compile_program`, on a device mesh (see `harlax.parallel`), with the NaN
    guard (`CheckedChunks`). Returns `(init, run_chunk, state shardings)`."""
    like = jax.eval_shape(jax.vmap(program.init), seed_keys(program.config))
    shardings, full = state_shardings(like, mesh), replicated(mesh)
    init = jit_once(jax.vmap(program.init), in_shardings=full, out_shardings=shardings)
    return init, CheckedChunks(program, shardings, full, like), shardings


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
    defaults = Config()
    key = config.replace(**{f: getattr(defaults, f) for f in _OUTPUT_FIELDS}).to_json()
    if key not in _COMPILED:
        program = make_train(config)  # checks the config before anything is built
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
    `stop_after`: stop (with a checkpoint) after this many updates; `harlax.resume`
    continues.
    """
    check(config)
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
    return run_loop(config, directory, None, 0, stop_after)


def run_loop(
    config: Config,
    directory: Path | None,
    state: PyTree | None,
    start_update: int,
    stop_after: int | None,
) -> TrainResult:
    """The host loop: compile, then dispatch chunks, and between them log, check, evaluate
    and save. `state` (None: a fresh start) is the learner state after `start_update`
    updates (`harlax.runs.resume` passes a restored checkpoint)."""
    marks = {"setup": time.perf_counter()}
    program, init, run_chunk, shardings = compiled(config)
    learner, derived = program.learner, program.derived
    per_chunk = derived.updates_per_chunk
    if stop_after is not None and (stop_after < 1 or stop_after % per_chunk):
        raise ValueError(
            f"stop_after={stop_after} must be a positive multiple of updates_per_chunk={per_chunk}"
        )
    end_update = derived.num_updates
    if stop_after is not None:
        end_update = min(end_update, start_update + stop_after)
    # (first update, length) of each chunk; only the run's last chunk may be shorter.
    chunks = [
        (u, min(per_chunk, end_update - u)) for u in range(start_update, end_update, per_chunk)
    ]
    writer = checkpointer = None
    main = is_main_process()  # only process 0 writes files; all take part in checkpoints
    if directory is not None:
        writer = MetricsWriter(directory, config, program.env.spec, start_update) if main else None
        checkpointer = Checkpointer(directory, config.keep_checkpoints)
    evaluation = None
    if config.eval_every:
        evaluation = Evaluation(program, directory if main else None, start_update)
    keys = None
    if state is None:
        keys = replicate(seed_keys(config), jax.tree.leaves(shardings)[0].mesh)
    else:
        state = jax.device_put(state, shardings)
    host_chunks: list[dict[str, np.ndarray]] = []
    spu = derived.steps_per_update

    def finish(first: int, length: int, metrics: dict, finite: dict) -> None:
        host = jax.device_get(metrics)
        check_chunk(host, jax.device_get(finite), first, config.seed)
        host_chunks.append(host)
        if writer is not None:
            writer.write_chunk(host, first, spu)
        done_steps = (first + length) * spu
        bar.update(
            done_steps,
            (done_steps - start_update * spu) / (time.perf_counter() - start),
            _latest_return(host),
        )

    try:
        with ProgressBar(config.total_steps, enabled=config.progress) as bar:
            bar.update(start_update * spu, 0.0, float("nan"))
            bar.phase("compiling")
            marks["compile"] = time.perf_counter()
            lengths = sorted({length for _, length in chunks})
            jobs = [functools.partial(run_chunk.compile, None, length) for length in lengths]
            if state is None:
                jobs.append(lambda: init.lower(keys).compile())
            executables = compile_concurrently(jobs)
            if state is None:
                state = executables[-1](keys)
            bar.phase("training")
            start = marks["train"] = time.perf_counter()  # steps/s: training only
            pending = None
            for first, length in chunks:
                # Dispatch the next chunk before reading the previous one's metrics, so the
                # device never waits for the host.
                state, metrics, finite = run_chunk(state, length)
                if pending is not None:
                    finish(*pending)
                pending = (first, length, metrics, finite)
                done = first + length
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
                    evaluation.periodic(learner.policy_params(state), done, spu)
                if save:
                    checkpointer.save(done, state)
        if evaluation is not None and end_update == derived.num_updates:
            evaluation.final(learner.policy_params(state), spu * end_update)
    finally:
        if checkpointer is not None:
            checkpointer.wait()
            checkpointer.close()
        if writer is not None:
            writer.close()
    marks["end"] = time.perf_counter()
    phases = list(marks)
    seconds = {a: marks[b] - marks[a] for a, b in zip(phases, phases[1:], strict=False)}
    metrics = (
        {k: np.concatenate([c[k] for c in host_chunks], axis=1) for k in host_chunks[0]}
        if host_chunks
        else {}
    )
    params = jax.device_get(learner.exported(state))
    if directory is not None and main:
        save_params(directory, params)
    return TrainResult(
        params=params,
        metrics=metrics,
        config=config,
        run_dir=directory,
        evaluation=None if evaluation is None else evaluation.summary(),
        seconds=seconds,
    )


def _latest_return(host_metrics: dict[str, np.ndarray]) -> float:
    """Mean over seeds of the chunk's mean episode return (NaN if no episode ended)."""
    values = episode_returns(host_metrics)
    if not np.isfinite(values).any():
        return float("nan")
    return float(np.nanmean(values))
