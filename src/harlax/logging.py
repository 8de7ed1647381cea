"""Host-side output of a run: run directory, metrics CSV, progress bar, final parameters."""

from __future__ import annotations

import csv
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from flax import serialization
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from harlax.config import Config
from harlax.envs.spec import MultiAgentSpec

PARAMS_FILE = "params.msgpack"
METRICS_FILE = "metrics.csv"
CONFIG_FILE = "config.json"
DEFAULT_RUNS_DIR = "runs"
TENSORBOARD_DIR = "tb"
WINS_KEY = "episodes_won"  # the learners' count of won episodes (where the env reports wins)
RETURN_CONVENTION = (
    "episode_return: undiscounted return of an episode, averaged over agents "
    "(mean of per-agent returns), averaged over the episodes that ended in that update; "
    "win_rate (environments with a win signal, e.g. SMAX): share of those episodes won"
)


def make_run_dir(config: Config, run_dir: str | Path | None = None) -> Path:
    """Create the run directory (`run_dir`, else `config.out`, else a fresh timestamped
    name under `runs/`) and write config.json. An existing non-empty directory is refused,
    so no earlier run is overwritten."""
    if run_dir is None:
        run_dir = config.out
    if run_dir is None:
        name = "{}_{}_s{}_{}".format(
            config.algo,
            re.sub(r"[^A-Za-z0-9_.-]", "-", config.env),
            config.seed,
            time.strftime("%Y%m%d-%H%M%S"),
        )
        run_dir = Path(DEFAULT_RUNS_DIR) / name
        suffix = 1
        while run_dir.exists():
            run_dir = Path(DEFAULT_RUNS_DIR) / f"{name}-{suffix}"
            suffix += 1
    path = Path(run_dir)
    if path.exists() and any(path.iterdir()):
        raise ValueError(
            f"Config.out: run directory {str(path)!r} already holds files. "
            "Fix: choose another directory (or delete that one)"
        )
    path.mkdir(parents=True, exist_ok=True)
    (path / CONFIG_FILE).write_text(config.to_json())
    return path


class MetricsWriter:
    """Appends one CSV row per logged update and seed, flushed after every chunk."""

    def __init__(self, run_dir: Path, config: Config, spec: MultiAgentSpec, start_update: int = 0):
        self.path = run_dir / METRICS_FILE
        self.config = config
        self.agents = spec.agents
        self._file = None
        self._writer: Any = None
        self.sinks = (
            ScalarSinks(run_dir, config) if (config.tensorboard or config.wandb_project) else None
        )
        if start_update and self.path.exists():
            self._truncate(start_update)

    def _truncate(self, start_update: int) -> None:
        """Resuming: keep the rows up to `start_update` (later ones were logged after the
        checkpoint) and append from there."""
        with self.path.open(newline="") as f:
            lines = f.read().splitlines(keepends=True)
        kept, header_seen = [], False
        for line in lines:
            if line.startswith("#") or not header_seen:
                header_seen = header_seen or not line.startswith("#")
                kept.append(line)
            elif int(line.split(",", 2)[1]) <= start_update:
                kept.append(line)
        self.path.write_text("".join(kept))
        self._file = self.path.open("a", newline="")
        self._writer = csv.writer(self._file)

    def _columns(self, metrics: dict[str, np.ndarray]) -> list[str]:
        names = ["seed", "update", "env_steps", "episode_return"]
        if WINS_KEY in metrics:
            names.append("win_rate")
        for key, value in sorted(metrics.items()):
            if value.ndim == 2:
                names.append(key)
            elif value.ndim == 3:
                names.extend(f"{key}/{agent}" for agent in self.agents)
        return names

    def write_chunk(
        self, metrics: dict[str, np.ndarray], first_update: int, steps_per_update: int
    ) -> None:
        """`metrics`: name -> `[num_seeds, updates_in_chunk]` or `[..., A]`."""
        returns, wins = episode_returns(metrics), win_rates(metrics)
        if self.sinks is not None:
            self.sinks.write(metrics, returns, first_update, steps_per_update)
        if self._writer is None:
            self._file = self.path.open("w", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(self._columns(metrics))
        num_seeds, num_updates = returns.shape
        for seed in range(num_seeds):
            for u in range(num_updates):
                update = first_update + u + 1
                row: list[Any] = [
                    self.config.seed + seed,
                    update,
                    update * steps_per_update,
                    returns[seed, u],
                ]
                if wins is not None:
                    row.append(wins[seed, u])
                for _, value in sorted(metrics.items()):
                    if value.ndim == 2:
                        row.append(value[seed, u])
                    elif value.ndim == 3:
                        row.extend(value[seed, u].tolist())
                self._writer.writerow(_format(row))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.sinks is not None:
            self.sinks.close()


class ScalarSinks:
    """TensorBoard (tensorboardX) and Weights & Biases: per update, the mean over seeds of
    every scalar metric, at x = env steps."""

    def __init__(self, run_dir: Path, config: Config):
        self.tb = self.wandb = None
        if config.tensorboard:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                raise ImportError(
                    'Config.tensorboard needs tensorboardX: pip install "harlax[tb]"'
                ) from None
            self.tb = SummaryWriter(str(run_dir / TENSORBOARD_DIR))
        if config.wandb_project:
            try:
                import wandb
            except ImportError:
                raise ImportError(
                    'Config.wandb_project needs wandb: pip install "harlax[wandb]"'
                ) from None
            self.wandb = wandb.init(
                project=config.wandb_project,
                config=config.to_dict(),
                dir=str(run_dir),
                name=run_dir.name,
            )

    def write(
        self,
        metrics: dict[str, np.ndarray],
        returns: np.ndarray,
        first_update: int,
        steps_per_update: int,
    ) -> None:
        scalars = {k: v for k, v in metrics.items() if v.ndim == 2}
        scalars["episode_return"] = returns
        if WINS_KEY in metrics:
            scalars["win_rate"] = win_rates(metrics)
        for u in range(returns.shape[1]):
            step = (first_update + u + 1) * steps_per_update
            with np.errstate(invalid="ignore"):
                row = {k: float(np.nanmean(v[:, u])) for k, v in sorted(scalars.items())}
            row = {k: v for k, v in row.items() if np.isfinite(v)}
            if self.tb is not None:
                for key, value in row.items():
                    self.tb.add_scalar(f"train/{key}", value, step)
            if self.wandb is not None:
                self.wandb.log({f"train/{k}": v for k, v in row.items()}, step=step)
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


def _format(row: list[Any]) -> list[Any]:
    out = []
    for value in row:
        if isinstance(value, (float, np.floating)):
            out.append("" if not np.isfinite(value) else f"{float(value):.6g}")
        elif isinstance(value, (np.bool_, bool)):
            out.append(int(value))
        elif isinstance(value, np.generic):
            out.append(value.item())
        else:
            out.append(value)
    return out


def per_episode(metrics: dict[str, np.ndarray], total: str) -> np.ndarray:
    """`metrics[total] / metrics["episodes"]` per logged update `[..., U]`: the mean over
    the episodes that ended in that update (NaN where none ended)."""
    count = metrics["episodes"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, metrics[total] / np.maximum(count, 1), np.nan)


def episode_returns(metrics: dict[str, np.ndarray]) -> np.ndarray:
    """Mean episode return per logged update `[..., U]` (NaN where no episode ended)."""
    return per_episode(metrics, "episode_return_sum")


def win_rates(metrics: dict[str, np.ndarray]) -> np.ndarray | None:
    """Share of the episodes ending in each update that were won `[..., U]` (NaN where no
    episode ended), or None where the environment reports no wins."""
    return per_episode(metrics, WINS_KEY) if WINS_KEY in metrics else None


def save_params(run_dir: Path, params: dict[str, Any]) -> Path:
    """Write the final parameters (leading seed axis) as flax msgpack."""
    path = run_dir / PARAMS_FILE
    path.write_bytes(serialization.msgpack_serialize(serialization.to_state_dict(params)))
    return path


def load_params(run_dir: str | Path) -> dict[str, Any]:
    """Read parameters written by `save_params` (nested dicts of numpy arrays)."""
    return serialization.msgpack_restore((Path(run_dir) / PARAMS_FILE).read_bytes())


def read_metric(run_dir: str | Path, metric: str = "episode_return") -> dict[int, dict]:
    """`{seed: {env_steps: value}}` of one metrics.csv column, e.g. `episode_return`,
    `win_rate` (environments with wins, such as SMAX) or `critic_loss` (NaN for empty
    cells)."""
    out: dict[int, dict] = defaultdict(dict)
    with (Path(run_dir) / METRICS_FILE).open() as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            value = row[metric]
            out[int(row["seed"])][int(row["env_steps"])] = float(value) if value else np.nan
    return out


def run_label(run_dir: str | Path) -> str:
    """The algorithm name of a run directory (from its config.json)."""
    return Config.from_json((Path(run_dir) / CONFIG_FILE).read_text()).algo


class ProgressBar:
    """Phase (compiling, then training), env steps, steps per second (of training, without
    compilation), mean episode return and time left (rich)."""

    def __init__(self, total_steps: int, enabled: bool = True):
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]{task.fields[phase]}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("{task.fields[sps]:,.0f} steps/s"),
            TextColumn("return {task.fields[ret]:.3f}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not enabled,
        )
        self.task = self.progress.add_task(
            "train", total=total_steps, sps=0.0, ret=float("nan"), phase="train"
        )

    def __enter__(self) -> ProgressBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def phase(self, name: str) -> None:
        """Show `name` (e.g. "compiling") as what the run is doing now."""
        self.progress.update(self.task, phase=name)

    def update(self, steps: int, steps_per_second: float, episode_return: float) -> None:
        self.progress.update(self.task, completed=steps, sps=steps_per_second, ret=episode_return)
