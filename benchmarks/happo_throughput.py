"""Time per training iteration of HATRPO vs HAPPO vs MAPPO at equal batch sizes.

    python -m benchmarks.happo_throughput                       # MPE spread, 64 envs x 128 steps
    python -m benchmarks.happo_throughput --env SMAX --map 3m --num-envs 128

All programs use the same env, batch (num_envs x rollout_length), networks, epochs and
minibatches (5 epochs, 1 minibatch: the HAPPO preset's; HATRPO takes one trust-region step).
After compiling and one warm-up chunk, `--repeats` chunks are timed; the CSV
benchmarks/results/happo_throughput.csv gives seconds per update and the ratio to MAPPO.
"""

from __future__ import annotations

import argparse
import time

import jax

from benchmarks.common import write_table
from harlax.named_configs import presets
from harlax.train import compile_program, make_train, seed_keys


def seconds_per_update(config, repeats: int) -> tuple[float, float]:
    """(compile seconds, steady-state seconds per update)."""
    init, run_chunk = compile_program(make_train(config))
    state = init(seed_keys(config))
    start = time.perf_counter()
    state, metrics = run_chunk(state)  # compile + warm-up
    jax.block_until_ready(metrics)
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        state, metrics = run_chunk(state)
    jax.block_until_ready(metrics)
    return compiled, (time.perf_counter() - start) / (repeats * config.updates_per_chunk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="MPE_simple_spread_v3")
    parser.add_argument("--map", default=None, help="SMAX map_name")
    parser.add_argument("--algos", nargs="+", default=["mappo", "happo", "hatrpo"])
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--rollout-length", type=int, default=128)
    parser.add_argument("--num-epochs", type=int, default=5)
    parser.add_argument("--num-minibatches", type=int, default=1)
    parser.add_argument("--hidden-dim", type=int, default=64)
    parser.add_argument("--updates-per-chunk", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env_kwargs = {"map_name": args.map} if args.map else {}
    steps = args.num_envs * args.rollout_length
    rows, base = [], None
    for algo in args.algos:
        config = presets[algo].replace(
            env=args.env,
            env_kwargs=env_kwargs,
            num_envs=args.num_envs,
            rollout_length=args.rollout_length,
            num_epochs=args.num_epochs,
            num_minibatches=args.num_minibatches,
            hidden_dim=args.hidden_dim,
            updates_per_chunk=args.updates_per_chunk,
            total_steps=steps * args.updates_per_chunk * (args.repeats + 1),
            progress=False,
        )
        compiled, per_update = seconds_per_update(config, args.repeats)
        base = base or per_update
        rows.append(
            [
                algo,
                f"{compiled:.2f}",
                f"{per_update:.4f}",
                f"{steps / per_update:.0f}",
                f"{per_update / base:.2f}",
            ]
        )
        print(
            f"{algo:7s} compile+warm-up {compiled:6.2f}s  {per_update:.4f} s/update  "
            f"{steps / per_update:9.0f} steps/s  ratio to {args.algos[0]} "
            f"{per_update / base:.2f}",
            flush=True,
        )
    path = write_table(
        "happo_throughput",
        ["algo", "compile_s", "s_per_update", "env_steps_per_s", f"ratio_to_{args.algos[0]}"],
        rows,
        vars(args),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
