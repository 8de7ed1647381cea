"""Learning curves of IPPO, MAPPO, HAPPO and HATRPO side by side, several seeds each.

    python benchmarks/happo_learning.py                                  # MPE spread, 327,680 steps
    python benchmarks/happo_learning.py --env halfcheetah_6x1 --total-steps 10_000_000  # GPU

Each algorithm trains `--seeds` seeds in one program (num_seeds, a vmap axis) from its
preset, with the same env, batch and networks. Writes benchmarks/results/
happo_learning_<env>.csv (mean episode return over seeds with a 95% Student-t interval,
averaged over windows of updates) and the matching PNG. Returns are valid on a loaded
machine; only the wall-clock column is not.
"""

from __future__ import annotations

import argparse
import time

import matplotlib
import numpy as np
from happo_util import RESULTS, write_csv
from scipy import stats

from harlax.config import presets
from harlax.logging import episode_returns
from harlax.train import train

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def interval(per_seed: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval over seeds `[S]` (NaN seeds dropped)."""
    x = per_seed[np.isfinite(per_seed)]
    if x.size == 0:
        return np.nan, np.nan, np.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, mean, mean
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return mean, mean - half, mean + half


def windows(returns: np.ndarray, points: int) -> list[np.ndarray]:
    """Split updates `[S, U]` into at most `points` windows; each -> per-seed means `[S]`."""
    edges = np.linspace(0, returns.shape[1], min(points, returns.shape[1]) + 1).astype(int)
    with np.errstate(all="ignore"):
        return [
            (hi, np.nanmean(returns[:, lo:hi], axis=1))
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="MPE_simple_spread_v3")
    parser.add_argument("--algos", nargs="+", default=["ippo", "mappo", "happo", "hatrpo"])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--total-steps", type=int, default=327_680)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--rollout-length", type=int, default=128)
    parser.add_argument("--updates-per-chunk", type=int, default=8)
    parser.add_argument("--points", type=int, default=40, help="windows in the CSV / plot")
    args = parser.parse_args()
    rows = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for algo in args.algos:
        config = presets[algo].replace(
            env=args.env,
            num_seeds=args.seeds,
            total_steps=args.total_steps,
            num_envs=args.num_envs,
            rollout_length=args.rollout_length,
            updates_per_chunk=args.updates_per_chunk,
            progress=False,
        )
        start = time.perf_counter()
        result = train(config, write=False)
        seconds = time.perf_counter() - start
        returns = episode_returns(result.metrics)  # [S, U]
        steps_per_update = config.num_envs * config.rollout_length
        curve = []
        for end, per_seed in windows(returns, args.points):
            mean, low, high = interval(per_seed)
            curve.append((end * steps_per_update, mean, low, high))
            rows.append(
                [
                    algo,
                    end * steps_per_update,
                    f"{mean:.4g}",
                    f"{low:.4g}",
                    f"{high:.4g}",
                    f"{seconds:.0f}",
                ]
            )
        x, mean, low, high = map(np.asarray, zip(*curve, strict=True))
        ax.plot(x, mean, label=algo)
        ax.fill_between(x, low, high, alpha=0.2)
        print(
            f"{algo:7s} final return {mean[-1]:.2f} [{low[-1]:.2f}, {high[-1]:.2f}] "
            f"({seconds:.0f}s)",
            flush=True,
        )
        save(args, rows, fig, ax)


def save(args, rows, fig, ax) -> None:
    """Write the CSV and PNG of the algorithms finished so far."""
    name = "happo_learning_" + args.env.replace("|", "-")
    header = ["algo", "env_steps", "return_mean", "ci95_low", "ci95_high", "wall_s"]
    path = write_csv(name, header, rows, vars(args))
    ax.set_xlabel("environment steps per seed")
    ax.set_ylabel("episode return (mean over agents)")
    ax.set_title(f"{args.env}: mean and 95% interval over {args.seeds} seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png", dpi=80)
    print(f"wrote {path} and {name}.png", flush=True)


if __name__ == "__main__":
    main()
