"""Aggregate scores across seeds and tasks: interquartile mean (IQM) with stratified-bootstrap
95% intervals (Agarwal et al., NeurIPS 2021).

With the `stats` extra (`pip install "harlax[stats]"`, which installs rliable and pins
`pandas<3`) the intervals come from rliable itself; without it, from the same stratified
percentile bootstrap written in numpy (runs resampled with replacement within each task).
The point estimates are identical either way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from scipy import stats

from harlax.config import Config
from harlax.evaluate import MARL_EVAL_FILE, env_and_task
from harlax.logging import CONFIG_FILE, read_metric


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all entries of `scores [runs, tasks]` (the middle 50%)."""
    return float(stats.trim_mean(np.asarray(scores, np.float64), 0.25, axis=None))


def stratified_bootstrap(
    scores: np.ndarray, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the IQM of `scores [runs, tasks]`, resampling runs with
    replacement independently within each task."""
    scores = np.asarray(scores, np.float64)
    runs, tasks = scores.shape
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    resampled = np.take_along_axis(scores[None], idx, axis=1)  # [reps, runs, tasks]
    values = stats.trim_mean(resampled.reshape(reps, -1), 0.25, axis=1)
    alpha = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [alpha, 100 - alpha])
    return float(low), float(high)


def _rliable_interval(scores: np.ndarray, reps: int, confidence: float):
    try:
        from rliable import library as rly
        from rliable import metrics
    except ImportError:
        return None
    _, intervals = rly.get_interval_estimates(
        {"x": scores},
        lambda s: np.array([metrics.aggregate_iqm(s)]),
        reps=reps,
        confidence_interval_size=confidence,
    )
    return float(intervals["x"][0, 0]), float(intervals["x"][1, 0])


def aggregate(
    scores: dict[str, np.ndarray],
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    use_rliable: bool = True,
) -> dict[str, dict[str, float]]:
    """`{algo: scores [runs, tasks]}` -> `{algo: {"iqm", "low", "high", "mean"}}`.

    Scores of different tasks should be on comparable scales (normalise them first).
    """
    out = {}
    for algo, values in scores.items():
        values = np.asarray(values, np.float64)
        if values.ndim == 1:
            values = values[:, None]
        interval = _rliable_interval(values, reps, confidence) if use_rliable else None
        if interval is None:
            interval = stratified_bootstrap(values, reps, confidence, seed)
        out[algo] = {
            "iqm": iqm(values),
            "low": interval[0],
            "high": interval[1],
            "mean": float(values.mean()),
        }
    return out


def scores_from_runs(run_dirs: Iterable[str | Path]) -> dict[str, np.ndarray]:
    """`{algo: [runs, tasks]}` from run directories: each seed's mean absolute-metric return
    (`evaluation.json`), or where a run was not evaluated, its mean training return over the
    last 10% of updates (metrics.csv). Each task needs the same number of runs."""
    table: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        if not (run_dir / MARL_EVAL_FILE).exists():
            _training_scores(run_dir, table)
            continue
        data = json.loads((run_dir / MARL_EVAL_FILE).read_text())
        for env, tasks in data.items():
            for task, algos in tasks.items():
                for algo, runs in algos.items():
                    for run in runs.values():
                        table[algo][f"{env}/{task}"].append(
                            float(np.mean(run["absolute_metrics"]["return"]))
                        )
    out = {}
    for algo, tasks in table.items():
        lengths = {len(v) for v in tasks.values()}
        if len(lengths) != 1:
            raise ValueError(
                f"aggregate: algorithm {algo!r} has different numbers of runs per "
                f"task {dict((t, len(v)) for t, v in tasks.items())}"
            )
        out[algo] = np.array([tasks[t] for t in sorted(tasks)]).T
    return out


def _training_scores(run_dir: Path, table: dict) -> None:
    config = Config.from_json((run_dir / CONFIG_FILE).read_text())
    env, task = env_and_task(config.env, config.env_kwargs)
    for series in read_metric(run_dir).values():
        values = np.array([series[k] for k in sorted(series)])
        tail = values[-max(1, int(round(len(values) * 0.1))) :]
        table[config.algo][f"{env}/{task}"].append(float(np.nanmean(tail)))
