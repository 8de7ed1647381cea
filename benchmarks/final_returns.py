"""Final returns per seed at the peers' settings, to check that a speed change leaves
learning as it was: run it on two commits (e.g. `PYTHONPATH=<old tree>/src`) and compare.

Cases: IPPO at JaxMARL's `ippo_ff_mpe.py` settings (64 envs, 1M steps) and HATRPO at HARL's
tuned simple_spread settings (presets `hatrpo` and `happo`, 400k steps). 4 seeds each; final = mean
episode return over the last 10% of updates.

    python -m benchmarks.final_returns --tag after

Writes benchmarks/results/final_returns_<tag>.csv.
"""

from __future__ import annotations

import argparse
import subprocess

import numpy as np

import harlax
from benchmarks.common import write_csv

CASES = {
    "ippo_jaxmarl": (
        "ippo",
        dict(
            num_envs=64,
            rollout_length=128,
            num_epochs=4,
            num_minibatches=4,
            anneal_lr=True,
            lr=2.5e-4,
            critic_lr=2.5e-4,
            value_norm=False,
            total_steps=1_048_576,
            updates_per_chunk=16,
        ),
    ),
    "hatrpo_harl": ("hatrpo", dict(total_steps=400_000, updates_per_chunk=10)),
    "happo_harl": ("happo", dict(total_steps=400_000, updates_per_chunk=10)),
}


def final_returns(config: harlax.Config) -> np.ndarray:
    """`[num_seeds]` mean episode return over the last 10% of updates."""
    metrics = harlax.train(config).metrics
    returns = metrics["episode_return_sum"] / np.maximum(metrics["episodes"], 1)
    last = max(1, returns.shape[1] // 10)
    return returns[:, -last:].mean(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--tag", default="now")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    rows = []
    for name in args.cases:
        preset, overrides = CASES[name]
        config = harlax.presets[preset].replace(num_seeds=args.seeds, progress=False, **overrides)
        finals = final_returns(config)
        rows.append(
            {
                "case": name,
                "total_steps": config.total_steps,
                "mean": float(finals.mean()),
                **{f"seed_{i}": float(v) for i, v in enumerate(finals)},
            }
        )
        print(rows[-1], flush=True)
        notes = [
            f"harlax {harlax.__file__}; repository HEAD {commit}",
            "final: last 10% of updates",
        ]
        write_csv(f"final_returns_{args.tag}", rows, notes)


if __name__ == "__main__":
    main()
