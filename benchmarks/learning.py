"""Learning curves of several algorithms on one environment, seeds vmapped in one program.

For each algorithm: train `--num-seeds` seeds (one compiled program), then report the
final mean episode return (mean of the last 10% of updates per seed) with a 95%
Student-t interval across seeds, and the curve (mean and 95% band per update).

    python -m benchmarks.learning --algos ippo mappo --total-steps 2097152
    python -m benchmarks.learning --algos ippo mappo happo hatrpo --name learning_onpolicy

Writes benchmarks/results/<name>.csv (final returns), <name>_curves.csv and <name>.png.
The return convention is stated in the CSV header.
"""

from __future__ import annotations

import argparse
import json
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import harlax  # noqa: E402
from benchmarks.common import RESULTS, carry_forward, smooth, t_interval, write_csv  # noqa: E402
from harlax.logging import RETURN_CONVENTION, episode_returns  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", nargs="+", default=["ippo", "mappo"])
    parser.add_argument("--env", default="MPE_simple_spread_v3")
    parser.add_argument("--env-kwargs", default="{}", help="JSON dict")
    parser.add_argument("--total-steps", type=int, default=2_097_152)
    parser.add_argument("--num-seeds", type=int, default=4)
    parser.add_argument("--overrides", default="{}", help="JSON dict of Config fields")
    parser.add_argument("--name", default="learning")
    args = parser.parse_args()
    env_kwargs = json.loads(args.env_kwargs)
    overrides = json.loads(args.overrides)

    finals, curves = [], []
    fig, ax = plt.subplots(figsize=(6, 4))

    def save() -> None:
        """Write CSVs and PNG of the algorithms done so far (a crash loses no result)."""
        title = args.env + (f" {env_kwargs}" if env_kwargs else "")
        ax.set(xlabel="env steps (per seed)", ylabel="mean episode return", title=title)
        ax.legend()
        fig.tight_layout()
        RESULTS.mkdir(parents=True, exist_ok=True)
        fig.savefig(RESULTS / f"{args.name}.png", dpi=120)
        notes = [
            RETURN_CONVENTION,
            "final return: mean over the last 10% of updates per seed; 95% Student-t "
            "interval across seeds",
            f"config overrides beyond each preset: {json.dumps(overrides)}",
        ]
        write_csv(args.name, finals, notes)
        write_csv(
            f"{args.name}_curves",
            curves,
            notes[:1]
            + ["curve: running mean over 2% of updates per seed, then mean and 95% t-interval"],
        )

    for algo in args.algos:
        config = harlax.presets[algo].replace(
            env=args.env,
            env_kwargs=env_kwargs,
            total_steps=args.total_steps,
            num_seeds=args.num_seeds,
            progress=False,
            **overrides,
        )
        derived = config.validate()
        start = time.perf_counter()
        result = harlax.train(config, write=False)
        seconds = time.perf_counter() - start
        returns = episode_returns(result.metrics)  # [seeds, updates]
        tail = max(1, returns.shape[1] // 10)
        per_seed = np.nanmean(returns[:, -tail:], axis=1)
        mean, half = t_interval(per_seed)
        finals.append(
            {
                "algo": algo,
                "env": args.env,
                "env_kwargs": json.dumps(env_kwargs),
                "total_steps": args.total_steps,
                "num_seeds": args.num_seeds,
                "final_return_mean": float(mean),
                "ci95_low": float(mean - half),
                "ci95_high": float(mean + half),
                "per_seed": " ".join(f"{x:.3f}" for x in per_seed),
                "wall_s": seconds,
            }
        )
        print(finals[-1], flush=True)
        smoothed = smooth(carry_forward(returns), max(1, returns.shape[1] // 50))
        curve_mean, curve_half = t_interval(smoothed)
        steps = (np.arange(returns.shape[1]) + 1) * derived.steps_per_update
        for s, m, h in zip(steps, curve_mean, curve_half, strict=True):
            curves.append(
                {
                    "algo": algo,
                    "env_steps": int(s),
                    "return_mean": float(m),
                    "ci95_half_width": float(h),
                }
            )
        ax.plot(steps, curve_mean, label=algo)
        ax.fill_between(steps, curve_mean - curve_half, curve_mean + curve_half, alpha=0.25)
        save()
    print(f"wrote {RESULTS / args.name}.csv, _curves.csv and .png")


if __name__ == "__main__":
    main()
