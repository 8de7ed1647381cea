"""Final returns per seed at the peers' settings, to check that a speed change leaves
learning as it was: run it on two commits (e.g. `PYTHONPATH=<old tree>/src`) and compare.

Cases: IPPO at JaxMARL's `ippo_ff_mpe.py` settings (64 envs, 1M steps), recurrent MAPPO at
its `mappo_rnn_mpe.py` ones (128 envs, 262k steps: 16 updates), HATRPO and HAPPO at
HARL's tuned simple_spread settings (presets `hatrpo` and `happo`, 400k steps) and HAPPO at its
HalfCheetah-2x3 ones (`happo_mamujoco`, 200k steps). 4 seeds each; final = mean episode
return over the last 10% of updates.

    python -m benchmarks.final_returns --tag after

Writes benchmarks/results/final_returns_<tag>.csv.
"""

from __future__ import annotations

import argparse
import subprocess

import numpy as np

import harlax
from benchmarks.common import write_csv
from benchmarks.peer_jaxmarl import PEERS

CASES = {
    "ippo_jaxmarl": (
        "ippo",
        dict(
            num_envs=64,
            rollout_length=128,
            num_epochs=4,
            num_minibatches=4,
            anneal_lr=True,
            **PEERS["ippo_ff"]["settings"],
            total_steps=1_048_576,
            updates_per_chunk=16,
        ),
    ),
    "mappo_rnn_jaxmarl": (
        "mappo",
        dict(
            num_envs=128,
            rollout_length=128,
            num_epochs=4,
            num_minibatches=4,
            anneal_lr=True,
            **PEERS["mappo_rnn"]["settings"],
            total_steps=262_144,
            updates_per_chunk=4,
        ),
    ),
    "hatrpo_harl": ("hatrpo", dict(total_steps=400_000, updates_per_chunk=10)),
    "happo_harl": ("happo", dict(total_steps=400_000, updates_per_chunk=10)),
    # HARL's tuned HalfCheetah-2x3 HAPPO on MJX physics (about 1,000 steps/s on 2 CPU cores).
    "happo_mamujoco": ("happo_mamujoco", dict(total_steps=200_000, updates_per_chunk=10)),
}


def final_returns(config: harlax.Config) -> np.ndarray:
    """`[num_seeds]` mean episode return over the last 10% of updates: the mean, over those
    updates that completed an episode, of each one's mean return (HalfCheetah's 1,000-step
    episodes end in one update of five at HARL's 200-step rollouts; MPE's in every one)."""
    metrics = harlax.train(config).metrics
    episodes = metrics["episodes"]
    returns = metrics["episode_return_sum"] / np.maximum(episodes, 1)
    last = max(1, returns.shape[1] // 10)
    ended = episodes[:, -last:] > 0
    if not ended.any(axis=1).all():
        raise ValueError(f"{config.env}: no episode ended in the last {last} updates")
    return (returns[:, -last:] * ended).sum(axis=1) / ended.sum(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, +1, ...")
    parser.add_argument("--tag", default="now")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    rows = []
    for name in args.cases:
        preset, overrides = CASES[name]
        config = harlax.presets[preset].replace(
            num_seeds=args.seeds, seed=args.first_seed, progress=False, **overrides
        )
        finals = final_returns(config)
        rows.append(
            {
                "case": name,
                "total_steps": config.total_steps,
                "mean": float(finals.mean()),
                **{f"seed_{args.first_seed + i}": float(v) for i, v in enumerate(finals)},
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
