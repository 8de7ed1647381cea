"""Training throughput of IPPO and MAPPO against the environment-only ceiling.

For each algorithm and number of parallel environments: steady-state training env-steps
per second after compilation (all seeds counted), compile time, the random-action
env-only rate at the same size (the ceiling), their ratio, and the FLOP/s the training
program achieves (XLA cost analysis) as a fraction of a measured float32 matmul peak.

    python -m benchmarks.throughput                      # 64, 256, 1024 envs
    python -m benchmarks.throughput --num-envs 64 --chunks 1   # a quick check

Writes benchmarks/results/throughput.csv.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

import harlax
from benchmarks.common import matmul_peak_flops, print_row, time_program, write_csv
from harlax.train import make_train, seed_keys


def env_only_program(env, num_envs: int, steps: int):
    """`(init, run)`: `steps` vmapped random-action environment steps in one scan."""
    spec = env.spec

    def random_action(key, avail):
        if spec.discrete:
            logits = jnp.where(avail, 0.0, -1e9)
            return jax.random.categorical(key, logits).astype(jnp.int32)
        low, high = jnp.asarray(spec.action_low), jnp.asarray(spec.action_high)
        return jax.random.uniform(key, avail.shape, minval=low, maxval=high)

    def init(key):
        return jax.vmap(env.reset)(jax.random.split(key, num_envs)), key

    def run(carry):
        def step(carry, _):
            states, key = carry
            key, k_act, k_env = jax.random.split(key, 3)
            actions = jax.vmap(random_action)(
                jax.random.split(k_act, num_envs), states.observation.avail
            )
            states, info = jax.vmap(env.step)(jax.random.split(k_env, num_envs), states, actions)
            return (states, key), info.reward.sum()

        carry, rewards = jax.lax.scan(step, carry, None, length=steps)
        return carry, rewards.sum()

    return init, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="MPE_simple_spread_v3")
    parser.add_argument("--algos", nargs="+", default=["ippo", "mappo"])
    parser.add_argument("--num-envs", nargs="+", type=int, default=[64, 256, 1024])
    parser.add_argument("--rollout-length", type=int, default=128)
    parser.add_argument("--updates-per-chunk", type=int, default=2)
    parser.add_argument("--num-seeds", type=int, default=1)
    parser.add_argument("--recurrent", action="store_true")
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--name", default="throughput")
    args = parser.parse_args()

    peak = matmul_peak_flops()
    print(f"matmul peak: {peak / 1e9:.1f} GFLOP/s")
    rows = []
    for num_envs in args.num_envs:
        steps_per_chunk = num_envs * args.rollout_length * args.updates_per_chunk
        env = harlax.make_env(args.env)
        init, run = env_only_program(env, num_envs, args.rollout_length * args.updates_per_chunk)
        env_timing = time_program(
            jax.vmap(init),
            jax.vmap(run),
            jax.random.split(jax.random.PRNGKey(0), args.num_seeds),
            args.chunks,
        )
        env_sps = steps_per_chunk * args.num_seeds / env_timing["seconds_per_chunk"]
        for algo in args.algos:
            config = harlax.presets[algo].replace(
                env=args.env,
                num_envs=num_envs,
                rollout_length=args.rollout_length,
                updates_per_chunk=args.updates_per_chunk,
                total_steps=steps_per_chunk,
                num_seeds=args.num_seeds,
                recurrent=args.recurrent,
                progress=False,
            )
            program = make_train(config)
            timing = time_program(
                jax.vmap(program.init), jax.vmap(program.run_chunk), seed_keys(config), args.chunks
            )
            sps = steps_per_chunk * args.num_seeds / timing["seconds_per_chunk"]
            flops_per_s = timing["flops_per_chunk"] / timing["seconds_per_chunk"]
            row = {
                "algo": algo,
                "env": args.env,
                "num_envs": num_envs,
                "rollout_length": args.rollout_length,
                "num_seeds": args.num_seeds,
                "recurrent": args.recurrent,
                "train_steps_per_s": sps,
                "env_only_steps_per_s": env_sps,
                "train_over_env_only": sps / env_sps,
                "compile_s": timing["compile_s"],
                "gflop_per_s": flops_per_s / 1e9,
                "fraction_of_matmul_peak": flops_per_s / peak,
            }
            rows.append(row)
            print_row(row)
    notes = [
        f"settings: preset defaults otherwise (epochs, minibatches, hidden sizes); "
        f"updates_per_chunk={args.updates_per_chunk}; timed chunks={args.chunks} after one "
        f"warm-up chunk; steps counted over all seeds",
        f"matmul peak (1024^3 float32, jit): {peak / 1e9:.2f} GFLOP/s",
    ]
    path = write_csv(args.name, rows, notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
