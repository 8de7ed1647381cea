"""Training throughput of MADDPG and its decentralised-critic ablation (DDPG).

Steady-state training env-steps per second after compilation (all seeds counted) and
compile time, for the paper's settings (`maddpg_<task>` presets: 16 envs x 25 steps per
update, 4 gradient steps of batch 1024, 2 x 64 ReLU) and other numbers of environments
(gradient steps scaled to keep one per 100 env steps). Training starts in the warm-up
chunk (learning_starts = batch_size), so the timed chunks include every gradient step.

    python -m benchmarks.maddpg_throughput                    # CPU/GPU, 16, 64, 256 envs
    python -m benchmarks.maddpg_throughput --num-envs 16 --chunks 1   # a quick check

Writes benchmarks/results/maddpg_throughput.csv.
"""

from __future__ import annotations

import argparse

import jax

import harlax
from benchmarks.common import print_row, time_program, write_csv
from harlax.named_configs import MADDPG_TASKS
from harlax.train import make_train, seed_keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="spread", choices=sorted(MADDPG_TASKS))
    parser.add_argument("--continuous", action="store_true", help="action_type=Continuous")
    parser.add_argument("--algos", nargs="+", default=["maddpg", "ddpg"])
    parser.add_argument("--num-envs", nargs="+", type=int, default=[16, 64, 256])
    parser.add_argument("--num-seeds", type=int, default=1)
    parser.add_argument("--updates-per-chunk", type=int, default=4)
    parser.add_argument("--buffer-size", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--name", default="maddpg_throughput")
    args = parser.parse_args()

    env_kwargs = {"action_type": "Continuous"} if args.continuous else {}
    rows = []
    for num_envs in args.num_envs:
        for algo in args.algos:
            base = harlax.presets[f"{algo}_{args.task}"]
            steps_per_update = num_envs * base.rollout_length
            steps_per_chunk = steps_per_update * args.updates_per_chunk
            config = base.replace(
                env_kwargs=env_kwargs,
                num_envs=num_envs,
                num_seeds=args.num_seeds,
                updates_per_chunk=args.updates_per_chunk,
                total_steps=steps_per_chunk,
                buffer_size=max(args.buffer_size, steps_per_update),
                learning_starts=base.batch_size,
                gradient_steps=max(1, steps_per_update // 100),
                progress=False,
            )
            program = make_train(config)
            timing = time_program(
                jax.vmap(program.init), jax.vmap(program.run_chunk), seed_keys(config), args.chunks
            )
            row = {
                "algo": algo,
                "env": config.env,
                "continuous": args.continuous,
                "num_envs": num_envs,
                "rollout_length": config.rollout_length,
                "gradient_steps_per_update": config.gradient_steps,
                "batch_size": config.batch_size,
                "num_seeds": args.num_seeds,
                "train_steps_per_s": steps_per_chunk * args.num_seeds / timing["seconds_per_chunk"],
                "gradient_steps_per_s": config.gradient_steps
                * args.updates_per_chunk
                * args.num_seeds
                / timing["seconds_per_chunk"],
                "compile_s": timing["compile_s"],
            }
            rows.append(row)
            print_row(row)
    notes = [
        f"settings: maddpg_{args.task} / ddpg_{args.task} presets otherwise; buffer_size="
        f"{args.buffer_size}; updates_per_chunk={args.updates_per_chunk}; timed chunks="
        f"{args.chunks} after one warm-up chunk; steps counted over all seeds",
    ]
    path = write_csv(args.name, rows, notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
