"""Operations on a run directory: rebuild a run (`load`), continue it (`resume`), and
evaluate it (`evaluate`). They sit above the training loop (`harlax.train`) and the
checkpoints (`harlax.checkpoint`), which know nothing of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from harlax.checkpoint import Checkpointer
from harlax.config import Config
from harlax.evaluate import evaluate_params
from harlax.logging import CONFIG_FILE
from harlax.train import TrainProgram, TrainResult, compiled, make_train, run_loop, seed_keys
from harlax.types import PyTree


@dataclass
class Loaded:
    """A run rebuilt from its directory. `state` has a leading seed axis."""

    config: Config
    program: TrainProgram
    state: PyTree
    update: int
    run_dir: Path

    @property
    def policy_params(self) -> PyTree:
        """The parameters greedy acting needs (`Learner.policy_params`), seed-batched."""
        return jax.vmap(self.program.learner.policy_params)(self.state)

    @property
    def actor_params(self) -> PyTree:
        return self.state.actor_params


def read_config(run_dir: str | Path) -> Config:
    """The config a run directory was trained with (FileNotFoundError naming the missing
    config.json where it is not a run directory)."""
    return Config.from_json((Path(run_dir) / CONFIG_FILE).read_text())


def restore_state(
    run_dir: Path,
    program: TrainProgram,
    update: int | None = None,
    shardings: PyTree = None,
    read_only: bool = True,
) -> tuple[PyTree, int]:
    """`(state, update)`: checkpoint `update` (default: the latest) of `run_dir`, as the
    seed-batched state of `program`."""
    like = jax.eval_shape(jax.vmap(program.init), seed_keys(program.config))
    checkpointer = Checkpointer(run_dir, program.config.keep_checkpoints, read_only=read_only)
    try:
        update = checkpointer.latest() if update is None else update
        if update is None:
            raise FileNotFoundError(
                f"{run_dir}: no complete checkpoint in {checkpointer.directory}"
            )
        return checkpointer.restore(like, update, shardings), int(update)
    finally:
        checkpointer.close()


def load(run_dir: str | Path, update: int | None = None) -> Loaded:
    """Rebuild config, program and learner state of a run from its directory alone
    (checkpoint `update`, default the latest). Nothing is compiled."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    program = make_train(config)
    state, update = restore_state(run_dir, program, update)
    return Loaded(config=config, program=program, state=state, update=update, run_dir=run_dir)


def resume(run_dir: str | Path, stop_after: int | None = None) -> TrainResult:
    """Continue the run in `run_dir` from its latest checkpoint with its stored config.

    Bit-identical on one machine to a run that never stopped. `TrainResult.metrics` holds
    the updates of this call; `metrics.csv` holds the whole run.
    """
    directory = Path(run_dir)
    config = read_config(directory)
    program, _, _, shardings = compiled(config)
    state, update = restore_state(directory, program, shardings=shardings, read_only=False)
    return run_loop(config, directory, state, update, stop_after)


def evaluate(
    run_or_params: Any, episodes: int = 64, program: Any = None, update: int | None = None
) -> np.ndarray:
    """Greedy returns `[num_seeds, episodes]` of a run directory (its latest checkpoint), a
    `Loaded` run, or seed-batched policy parameters with `program` (a `TrainProgram`)."""
    if isinstance(run_or_params, (str, Path)):
        run_or_params = load(run_or_params)
    if isinstance(run_or_params, Loaded):
        program, params = run_or_params.program, run_or_params.policy_params
        update = run_or_params.update if update is None else update
    else:
        if program is None:
            raise ValueError("evaluate: pass program=make_train(config) with raw parameters")
        params = run_or_params
    return evaluate_params(params, program, episodes, update)
