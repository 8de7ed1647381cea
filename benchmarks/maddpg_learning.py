"""MADDPG against its decentralised-critic ablation (independent DDPG), as in Lowe et al.

For each task and algorithm: `--num-seeds` seeds trained in one compiled program from the
`<algo>_<task>` preset (the paper's hyperparameters), with a smaller budget and buffer if
asked. MPE exposes no success flag, so the measures are returns: the team return (mean
over agents) for cooperative tasks, and for `adversary` (physical deception) the good
agents' mean return and the adversary's return separately. Final value: mean of the last
10% of updates per seed, with a 95% Student-t interval across seeds. The paper's
direction: MADDPG beats DDPG on speaker_listener and (good agents) on adversary.

`--cross-play` is the paper's cross-play on `adversary`: the four pairings of the good
agents' and the adversary's algorithm (maddpg/maddpg, maddpg good vs ddpg adversary, ddpg
good vs maddpg adversary, ddpg/ddpg), each team learning with its own algorithm in one run
(Config.adversary_algo), reported as a table of the good agents' and the adversary's final
returns (same final value and interval).

    python -m benchmarks.maddpg_learning                           # 4 seeds, 600k steps
    python -m benchmarks.maddpg_learning --total-steps 200000      # a cheaper run
    python -m benchmarks.maddpg_learning --cross-play              # maddpg_crossplay.csv

Writes benchmarks/results/<name>.csv (final), <name>_curves.csv and <name>.png; with
--cross-play only <name>.csv (default name maddpg_crossplay).
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import harlax  # noqa: E402
from benchmarks.common import RESULTS, smooth, t_interval, write_csv  # noqa: E402
from harlax.named_configs import MADDPG_TASKS  # noqa: E402


def per_agent_returns(metrics: dict[str, np.ndarray]) -> np.ndarray:
    """Mean return of the episodes that ended in each update, per agent `[S, U, A]`."""
    count = metrics["episodes"][..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, metrics["agent_return_sum"] / np.maximum(count, 1), np.nan)


def measures(task: str, agents: tuple[str, ...], returns: np.ndarray) -> dict[str, np.ndarray]:
    """Task measures `name -> [S, U]` from per-agent returns `[S, U, A]`."""
    adversary = np.array([a.startswith("adversary") for a in agents])
    if task in ("adversary", "tag", "push"):
        return {
            "good_return": returns[..., ~adversary].mean(-1),
            "adversary_return": returns[..., adversary].mean(-1),
        }
    return {"team_return": returns.mean(-1)}


def train_measures(
    base: harlax.Config, task: str, args: argparse.Namespace
) -> tuple[harlax.Config, dict[str, np.ndarray], np.ndarray, float]:
    """Train `base` with the command line's budget, seeds, buffer and action type; returns
    the run's config, its task measures `name -> [S, U]`, the env steps after each update
    `[U]` and the wall time in seconds."""
    chunk = base.num_envs * base.rollout_length * base.updates_per_chunk
    total = max(chunk, args.total_steps // chunk * chunk)
    buffer_size = min(args.buffer_size, total)
    config = base.replace(
        total_steps=total,
        num_seeds=args.num_seeds,
        progress=False,
        buffer_size=buffer_size,
        learning_starts=max(base.batch_size, min(base.learning_starts, buffer_size)),
        env_kwargs={"action_type": "Continuous"} if args.continuous else {},
    )
    start = time.perf_counter()
    result = harlax.train(config, write=False)
    seconds = time.perf_counter() - start
    agents = harlax.make_env(config.env, **config.env_kwargs).spec.agents
    steps = (np.arange(result.metrics["episodes"].shape[1]) + 1) * (
        config.num_envs * config.rollout_length
    )
    return config, measures(task, agents, per_agent_returns(result.metrics)), steps, seconds


def final_value(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Per-seed mean of the last 10% of updates `[S]` from `values [S, U]`, with its mean
    over seeds and the half-width of the 95% Student-t interval."""
    last = max(1, values.shape[1] // 10)
    per_seed = np.nanmean(values[:, -last:], axis=1)
    mean, half = t_interval(per_seed)
    return per_seed, float(mean), float(half)


PAIRINGS = (("maddpg", "maddpg"), ("maddpg", "ddpg"), ("ddpg", "maddpg"), ("ddpg", "ddpg"))
"""Cross-play on `adversary`: (good agents' algo, adversary's algo)."""


def cross_play(args: argparse.Namespace) -> None:
    """The four pairings on `adversary`, one table row each: <name>.csv."""
    name = args.name or "maddpg_crossplay"
    notes = [
        f"settings: <good>_adversary presets (Lowe et al. 2017 hyperparameters) with "
        f"adversary_algo=<adversary>, total_steps={args.total_steps}, "
        f"num_seeds={args.num_seeds}, buffer_size<={args.buffer_size}, "
        f"continuous={args.continuous}",
        "measure: undiscounted episode return (good agents' mean; the adversary's); final = "
        "mean of the last 10% of updates per seed; interval: 95% Student-t across seeds",
    ]
    rows = []
    for good, adversary in PAIRINGS:
        base = harlax.presets[f"{good}_adversary"].replace(adversary_algo=adversary)
        config, values, _, seconds = train_measures(base, "adversary", args)
        row = {"good_algo": good, "adversary_algo": adversary}
        for measure in ("good_return", "adversary_return"):
            per_seed, mean, half = final_value(values[measure])
            row.update(
                {
                    measure: mean,
                    f"{measure}_ci95_low": mean - half,
                    f"{measure}_ci95_high": mean + half,
                    f"{measure}_per_seed": " ".join(f"{v:.4g}" for v in per_seed),
                }
            )
        row.update(num_seeds=args.num_seeds, env_steps=config.total_steps, wall_s=seconds)
        rows.append(row)
        print(row, flush=True)
        write_csv(name, rows, notes)  # after every pairing, so a stopped run keeps its rows
    print(f"wrote {RESULTS / name}.csv")


def read_rows(name: str) -> list[dict[str, str]]:
    """Rows of benchmarks/results/<name>.csv without its `#` header lines."""
    with (RESULTS / f"{name}.csv").open() as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def plot(name: str) -> None:
    """<name>.png from <name>_curves.csv: one panel per task measure, a band per algo."""
    rows = read_rows(f"{name}_curves")
    panels = sorted({(r["task"], r["measure"]) for r in rows})
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, (task, measure) in zip(axes[0], panels, strict=True):
        for algo in dict.fromkeys(r["algo"] for r in rows):
            sel = [r for r in rows if (r["task"], r["measure"], r["algo"]) == (task, measure, algo)]
            if not sel:
                continue
            steps, m, lo, hi = (
                np.array([float(r[k]) for r in sel])
                for k in ("env_steps", "mean", "ci95_low", "ci95_high")
            )
            ax.plot(steps, m, label=algo)
            ax.fill_between(steps, lo, hi, alpha=0.25)
        ax.set_title(f"{task}: {measure}")
        ax.set_xlabel("env steps per seed")
        ax.legend()
    fig.suptitle("MADDPG vs DDPG (mean, 95% t-interval over seeds)")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png", dpi=80)
    print(f"wrote {RESULTS / name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=["speaker_listener", "adversary"],
        choices=sorted(MADDPG_TASKS),
    )
    parser.add_argument("--algos", nargs="+", default=["maddpg", "ddpg"])
    parser.add_argument("--total-steps", type=int, default=600_000)
    parser.add_argument("--num-seeds", type=int, default=4)
    parser.add_argument("--buffer-size", type=int, default=1_000_000)
    parser.add_argument("--continuous", action="store_true", help="action_type=Continuous")
    parser.add_argument("--name", default=None, help="default maddpg_learning / _crossplay")
    parser.add_argument(
        "--cross-play",
        action="store_true",
        help="the four good-vs-adversary algorithm pairings on adversary (one table)",
    )
    parser.add_argument("--append", action="store_true", help="keep <name>.csv's rows")
    parser.add_argument("--plot-only", action="store_true", help="redraw from <name>_curves.csv")
    args = parser.parse_args()
    # Updates before the first episode ends have no return (NaN); nanmean warns about them.
    warnings.filterwarnings("ignore", "Mean of empty slice|Degrees of freedom", RuntimeWarning)
    if args.cross_play:
        cross_play(args)
        return
    args.name = args.name or "maddpg_learning"
    if args.plot_only:
        plot(args.name)
        return

    final_rows, curve_rows = [], []
    if args.append:  # add to an earlier invocation's results (one process per run)
        final_rows, curve_rows = read_rows(args.name), read_rows(f"{args.name}_curves")
    notes = [
        f"settings: <algo>_<task> presets (Lowe et al. 2017 hyperparameters) with total_steps="
        f"{args.total_steps}, num_seeds={args.num_seeds}, buffer_size<={args.buffer_size}, "
        f"continuous={args.continuous}",
        "measure: undiscounted episode return per agent group (team: mean over agents; "
        "adversary task: good agents' mean and the adversary's); final = mean of the last 10% "
        "of updates per seed; interval: 95% Student-t across seeds",
    ]
    for task in args.tasks:
        for algo in args.algos:
            base = harlax.presets[f"{algo}_{task}"]
            config, task_measures, steps, seconds = train_measures(base, task, args)
            total = config.total_steps
            for measure, values in task_measures.items():
                per_seed, mean, half = final_value(values)
                final_rows.append(
                    {
                        "task": task,
                        "env": config.env,
                        "algo": algo,
                        "measure": measure,
                        "mean": float(mean),
                        "ci95_low": float(mean - half),
                        "ci95_high": float(mean + half),
                        "num_seeds": args.num_seeds,
                        "env_steps": total,
                        "per_seed": " ".join(f"{v:.4g}" for v in per_seed),
                        "wall_s": seconds,
                    }
                )
                print(final_rows[-1], flush=True)
                smoothed = smooth(values, max(1, values.shape[1] // 20))
                m, h = t_interval(smoothed)
                for i in np.unique(np.linspace(0, len(steps) - 1, 60).astype(int)):
                    curve_rows.append(
                        {
                            "task": task,
                            "algo": algo,
                            "measure": measure,
                            "env_steps": int(steps[i]),
                            "mean": float(m[i]),
                            "ci95_low": float(m[i] - h[i]),
                            "ci95_high": float(m[i] + h[i]),
                        }
                    )
            # Written after every run, so a long benchmark that is stopped keeps its results.
            write_csv(args.name, final_rows, notes)
            write_csv(f"{args.name}_curves", curve_rows, notes)

    plot(args.name)
    print(f"wrote {RESULTS / args.name}.csv, _curves.csv, .png")


if __name__ == "__main__":
    main()
