"""Hyperparameter vectorisation: several values of one float hyperparameter trained in one
compiled program, a vmap axis outside the seed axis (as PureJaxRL vmaps seeds and
learning rates).

The program is built inside the vmapped function, with the hyperparameter a traced value,
so every part of the learner that reads it (optimiser, loss) sees its own value. Only
fields read as numbers inside the program can be vectorised (`VECTORISABLE`); fields that
choose code paths or shapes cannot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harlax.checks import check
from harlax.compiling import jit, jit_once
from harlax.config import Config
from harlax.logging import episode_returns
from harlax.train import make_train, seed_keys, train
from harlax.types import PyTree
from harlax.validation import derive

VECTORISABLE = ("lr", "critic_lr", "ent_coef", "clip_eps", "gamma", "gae_lambda", "max_grad_norm")


@dataclass
class SweepResult:
    """Arrays lead with `[num_values, num_seeds, ...]`."""

    name: str
    values: np.ndarray  # [H]
    metrics: dict[str, np.ndarray]  # name -> [H, S, num_updates, ...]
    params: dict[str, PyTree]  # {"actor", "critic"} with leading [H, S]
    config: Config

    def final_returns(self, fraction: float = 0.1) -> np.ndarray:
        """Mean episode return over the last `fraction` of updates: `[H, S]`."""
        returns = episode_returns(self.metrics)
        tail = max(1, int(round(returns.shape[-1] * fraction)))
        with np.errstate(invalid="ignore"):
            return np.nanmean(returns[..., -tail:], axis=-1)


def make_sweep(config: Config, name: str, values: Sequence[float]):
    """`(init, run_chunk)`, jitted: `init(keys [S], values [H]) -> state [H, S, ...]`,
    `run_chunk(state, values, length=None) -> (state, metrics [H, S, U, ...])`, a chunk of
    `length` updates (default `Derived.updates_per_chunk`). Each value is validated like a
    Config field (ValueError naming it) before anything is built."""

    if name not in VECTORISABLE:
        raise ValueError(
            f"sweep: {name!r} cannot be vectorised (it is not read as a number "
            f"inside the program). Fix: use one of {list(VECTORISABLE)}, or run "
            "separate programs (harlax sweep over a grid)"
        )
    if len(values) < 1:
        raise ValueError("sweep: give at least one value")
    for value in values:
        derive(config.replace(**{name: float(value)}))
    derived = check(config)

    def program(value):
        return make_train(config.replace(**{name: value}), derived)

    def init(key, value):
        return program(value).init(key)

    init_all = jit_once(jax.vmap(jax.vmap(init, (0, None)), (None, 0)))
    compiled: dict[int, Callable] = {}

    def run_all(state, values, length: int | None = None):
        length = derived.updates_per_chunk if length is None else length
        if length not in compiled:

            def run_chunk(state, value):
                return program(value).run_chunk(state, length)

            compiled[length] = jit(
                jax.vmap(jax.vmap(run_chunk, (0, None)), (0, 0)),
                recurrent=config.recurrent,
                donate_argnums=0,
            )
        return compiled[length](state, values)

    return init_all, run_all


def sweep(config: Config, name: str, values: Sequence[float]) -> SweepResult:
    """Train `config` for every value of hyperparameter `name` in one program (seeds
    vmapped inside). Seed `i` of every value starts from the same key as in `train`."""
    init, run_chunk = make_sweep(config, name, values)
    vals = jnp.asarray(values, jnp.float32)
    state = init(seed_keys(config), vals)
    chunks = []
    for length in derive(config).chunk_lengths:
        state, metrics = run_chunk(state, vals, length)
        chunks.append(jax.device_get(metrics))
    metrics = {k: np.concatenate([c[k] for c in chunks], axis=2) for k in chunks[0]}
    params = jax.device_get({"actor": state.actor_params, "critic": state.critic_params})
    return SweepResult(
        name=name, values=np.asarray(values), metrics=metrics, params=params, config=config
    )


# ---------------------------------------------------------------------- grids of runs
def grid_points(spec: dict) -> list[tuple[str, str, Config]]:
    """`(name, group, config)` for every algorithm x environment x override combination of a grid
    spec: `{"base": {field: value}, "algos": [...], "envs": [name or {"env", "env_kwargs"}],
    "grid": {field: [values]}}`; `group` is the algorithm and overrides (runs of one group on
    different environments are aggregated together). Every config is validated here."""
    import itertools

    unknown = sorted(set(spec) - {"base", "algos", "envs", "grid", "out"})
    if unknown:
        raise ValueError(f"sweep spec: unknown key(s) {unknown}; use base, algos, envs, grid, out")
    base = Config.from_dict(dict(spec.get("base", {})))
    algos = spec.get("algos") or [base.algo]
    envs = [e if isinstance(e, dict) else {"env": e} for e in (spec.get("envs") or [base.env])]
    grid = spec.get("grid") or {}
    names = sorted(grid)
    points = []
    for algo, env, combo in itertools.product(
        algos, envs, itertools.product(*(grid[n] for n in names))
    ):
        overrides = dict(zip(names, combo, strict=True))
        config = base.replace(
            algo=algo, env=env["env"], env_kwargs=dict(env.get("env_kwargs", {})), **overrides
        )
        config.validate()
        task = "-".join([env["env"], *(f"{k}" for k in env.get("env_kwargs", {}).values())])
        group = "_".join([algo, *(f"{k}={v}" for k, v in overrides.items())])
        name = re.sub(r"[^A-Za-z0-9_.=-]", "-", f"{group}_{task}")
        points.append((name, group, config))
    return points


def run_grid(spec: dict, out: str | Path) -> dict[str, Any]:
    """Train every grid point (seeds vmapped inside each program) into `out/<point>/`,
    then write `out/aggregate.csv` (IQM and 95% interval per algorithm and override) and
    `out/curves.png`. Returns the aggregate table."""
    from harlax.aggregate import aggregate, scores_from_runs
    from harlax.plot import plot

    out = Path(out)
    points = grid_points(spec)  # all validated before the first run
    dirs = []
    groups: dict[str, list[Path]] = {}
    for name, group, config in points:
        dirs.append(train(config, run_dir=out / name).run_dir)
        groups.setdefault(group, []).append(dirs[-1])
    rows = []
    for label, run_dirs in groups.items():
        scores = next(iter(scores_from_runs(run_dirs).values()))
        stats = aggregate({label: scores})[label]
        rows.append({"label": label, "runs": scores.shape[0], "tasks": scores.shape[1], **stats})
    with (out / "aggregate.csv").open("w") as f:
        f.write(
            "# IQM over seeds x tasks with stratified-bootstrap 95% interval; score = "
            "absolute metric if evaluated, else mean return of the last 10% of updates\n"
        )
        f.write("label,runs,tasks,iqm,low,high,mean\n")
        for r in rows:
            f.write(
                f"{r['label']},{r['runs']},{r['tasks']},{r['iqm']:.6g},{r['low']:.6g},"
                f"{r['high']:.6g},{r['mean']:.6g}\n"
            )
    plot(dirs, out / "curves.png")
    return {r["label"]: r for r in rows}
