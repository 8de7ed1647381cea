"""Learning curves from run directories: the mean over seeds (and runs) of one algorithm
with a 95% confidence band of that mean, x in environment steps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from harlax.logging import read_metric, run_label


@dataclass
class Curve:
    """One algorithm's curve: `steps [N]`, `mean [N]`, 95% band `low, high [N]`, `n [N]`
    curves (seeds) that contribute a finite value at each point."""

    label: str
    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: np.ndarray


def mean_band(values: np.ndarray, confidence: float = 0.95):
    """`values [curves, N]` (NaN = missing) -> mean, low, high, n per point (Student-t
    interval of the mean; the band is zero-width where only one curve has a value)."""
    n = np.isfinite(values).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(values, axis=0)
        sem = np.nanstd(values, axis=0, ddof=1) / np.sqrt(n)
    t = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
    half = np.where(n > 1, t * sem, 0.0)
    return mean, mean - half, mean + half, n


def learning_curves(
    run_dirs: Iterable[str | Path], metric: str = "episode_return", confidence: float = 0.95
) -> list[Curve]:
    """One `Curve` per algorithm; every seed of every run of that algorithm is one curve,
    aligned on the env steps that all of them logged."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for run_dir in run_dirs:
        groups[run_label(run_dir)].extend(read_metric(run_dir, metric).values())
    curves = []
    for label, series in groups.items():
        steps = sorted(set.intersection(*(set(s) for s in series)))
        values = np.array([[s[x] for x in steps] for s in series], np.float64)
        mean, low, high, n = mean_band(values, confidence)
        curves.append(Curve(label, np.array(steps), mean, low, high, n))
    return curves


def plot(
    run_dirs: Iterable[str | Path],
    out: str | Path = "curves.png",
    metric: str = "episode_return",
    title: str | None = None,
) -> Path:
    """Write a PNG of the learning curves of `run_dirs` (one line per algorithm)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for curve in learning_curves(run_dirs, metric):
        seeds = int(curve.n.max()) if curve.n.size else 0
        ax.plot(curve.steps, curve.mean, label=f"{curve.label} (n={seeds})")
        ax.fill_between(curve.steps, curve.low, curve.high, alpha=0.25)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title or "mean with 95% confidence band")
    ax.legend()
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
