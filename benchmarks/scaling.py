"""Scaling of the training program, and the cost of the host side.

Three measurements, each steady state after compilation (compile time reported apart):

* `envs`: training env-steps per second against the number of parallel environments.
* `devices`: the same against the number of devices the environment batch is sharded over
  (`Config.num_devices`). On a CPU-only machine each count runs in a subprocess with
  `XLA_FLAGS=--xla_force_host_platform_device_count=N` (fake devices sharing the same
  cores: this checks the sharded program, it cannot show a speed-up); on a GPU machine the
  real devices are used.
* `overhead`: wall time of `harlax.train` with nothing written against the same run with
  metrics.csv, a checkpoint and a greedy evaluation after every chunk, as a ratio.

    python -m benchmarks.scaling envs --num-envs 64 256 1024 4096
    python -m benchmarks.scaling devices --devices 1 2 4
    python -m benchmarks.scaling overhead
    python -m benchmarks.scaling envs --num-envs 64 --chunks 1 --name scaling_smoke

Writes benchmarks/results/scaling_<what>.csv (or --name).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax

import harlax
from benchmarks.common import write_csv
from harlax.train import compiled, seed_keys


def base_config(args, **changes) -> harlax.Config:
    config = harlax.presets[args.algo].replace(
        env=args.env,
        rollout_length=args.rollout_length,
        updates_per_chunk=args.updates_per_chunk,
        num_seeds=args.num_seeds,
        progress=False,
    )
    config = config.replace(**changes)
    steps = config.num_envs * config.rollout_length * config.updates_per_chunk
    return config.replace(total_steps=steps * (args.chunks + 1))


def time_training(config: harlax.Config, chunks: int) -> dict[str, float]:
    """Compile + first chunk (timed apart), then `chunks` chunks: steady env-steps/s."""
    start = time.perf_counter()
    _, init, run_chunk, _ = compiled(config)
    state = init(seed_keys(config))
    state, metrics, _ = run_chunk(state)
    jax.block_until_ready(metrics)
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(chunks):
        state, metrics, _ = run_chunk(state)
    jax.block_until_ready(metrics)
    seconds = (time.perf_counter() - start) / chunks
    steps = config.num_envs * config.rollout_length * config.updates_per_chunk
    return {
        "compile_and_first_chunk_s": first_s,
        "seconds_per_chunk": seconds,
        "train_steps_per_s": steps * config.num_seeds / seconds,
    }


def row_of(config: harlax.Config, timing: dict, **extra) -> dict:
    return {
        "algo": config.algo,
        "env": config.env,
        "num_envs": config.num_envs,
        "rollout_length": config.rollout_length,
        "num_seeds": config.num_seeds,
        **extra,
        **timing,
    }


def envs(args) -> list[dict]:
    rows = []
    for num_envs in args.num_envs:
        config = base_config(args, num_envs=num_envs, num_devices=1)
        rows.append(row_of(config, time_training(config, args.chunks)))
        print(rows[-1], flush=True)
    return rows


def devices(args) -> list[dict]:
    rows = []
    for n in args.devices:
        env = dict(os.environ)
        if jax.default_backend() == "cpu":
            env["XLA_FLAGS"] = (
                env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n}"
            ).strip()
        command = [
            sys.executable,
            "-m",
            "benchmarks.scaling",
            "_device_worker",
            "--num-devices",
            str(n),
            *sys.argv[sys.argv.index("devices") + 1 :],
        ]
        child = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        if child.returncode:
            raise SystemExit(child.stderr[-3000:])
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    return rows


def device_worker(args) -> None:
    config = base_config(args, num_envs=args.num_envs[0], num_devices=args.num_devices)
    timing = time_training(config, args.chunks)
    print(
        json.dumps(
            row_of(config, timing, num_devices=args.num_devices, platform=jax.default_backend())
        )
    )


def overhead(args) -> list[dict]:
    config = base_config(args, num_envs=args.num_envs[0], num_devices=1)
    every = config.updates_per_chunk
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        variants = {
            "nothing written": lambda i: harlax.train(config, write=False),
            "csv + checkpoint + eval every chunk": lambda i: harlax.train(
                config.replace(
                    checkpoint_every=every,
                    eval_every=every,
                    eval_episodes=args.eval_episodes,
                    final_eval_episodes=args.eval_episodes,
                ),
                run_dir=Path(tmp) / f"run{i}",
            ),
        }
        for name, run in variants.items():
            run(0)  # compile (the program is shared; the evaluator is compiled here)
            times = []
            for i in range(1, args.repeats + 1):
                start = time.perf_counter()
                run(i)
                times.append(time.perf_counter() - start)
            rows.append(
                row_of(
                    config,
                    {"variant": name, "best_wall_s": min(times)},
                    updates=config.total_steps // (config.num_envs * config.rollout_length),
                )
            )
            print(rows[-1], flush=True)
    for row in rows:
        row["ratio_to_nothing_written"] = row["best_wall_s"] / rows[0]["best_wall_s"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["envs", "devices", "overhead", "_device_worker"])
    parser.add_argument("--algo", default="mappo")
    parser.add_argument("--env", default="MPE_simple_spread_v3")
    parser.add_argument(
        "--num-envs",
        nargs="+",
        type=int,
        default=None,
        help="envs: list (default 64..4096); devices/overhead: first (256)",
    )
    parser.add_argument("--devices", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--num-devices", type=int, default=1)
    parser.add_argument("--rollout-length", type=int, default=128)
    parser.add_argument("--updates-per-chunk", type=int, default=2)
    parser.add_argument("--num-seeds", type=int, default=1)
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--eval-episodes", type=int, default=16)
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    if args.num_envs is None:
        args.num_envs = [64, 256, 1024, 4096] if args.what == "envs" else [256]
    if args.what == "_device_worker":
        device_worker(args)
        return
    rows = {"envs": envs, "devices": devices, "overhead": overhead}[args.what](args)
    notes = [
        f"command: python -m benchmarks.scaling {' '.join(sys.argv[1:])}",
        f"preset {args.algo} otherwise; updates_per_chunk={args.updates_per_chunk}; "
        f"timed chunks={args.chunks} after compile + one chunk; steps over all seeds",
    ]
    if args.what == "devices" and jax.default_backend() == "cpu":
        notes.append(
            "fake CPU devices (xla_force_host_platform_device_count) share the same "
            "cores: this checks the sharded program, not a speed-up"
        )
    path = write_csv(args.name or f"scaling_{args.what}", rows, notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
