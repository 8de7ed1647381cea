"""Compile time of the HAPPO / HATRPO programs (and MAPPO for reference) against the number
of agents. The sequential scheme is a lax.scan over agents, so it should stay nearly flat.

    python -m benchmarks.happo_compile                        # SMAX 3m vs 10m_vs_11m vs 27m_vs_30m
    python -m benchmarks.happo_compile --maps 3m 10m_vs_11m --algos happo hatrpo
    python -m benchmarks.happo_compile --env spread --agents 3 10   # MPE spread, N agents

Writes benchmarks/results/happo_compile_<env>.csv: per (algo, scenario) the seconds to
trace+lower and to compile one chunk of `updates_per_chunk` updates (XLA compile, not run).
"""

from __future__ import annotations

import argparse
import time

import jax

from benchmarks.common import write_table
from harlax.named_configs import presets
from harlax.train import make_train, seed_keys


def compile_seconds(config) -> tuple[int, float, float]:
    """(num_agents, trace+lower seconds, compile seconds) of one chunk of `config`."""
    program = make_train(config)
    state = jax.jit(jax.vmap(program.init))(seed_keys(config))
    start = time.perf_counter()
    lowered = jax.jit(jax.vmap(program.run_chunk)).lower(state)
    traced = time.perf_counter()
    lowered.compile()
    done = time.perf_counter()
    return program.env.spec.num_agents, traced - start, done - traced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", choices=["smax", "spread"], default="smax")
    parser.add_argument("--maps", nargs="+", default=["3m", "10m_vs_11m", "27m_vs_30m"])
    parser.add_argument("--agents", nargs="+", type=int, default=[3, 10], help="spread only")
    parser.add_argument("--algos", nargs="+", default=["happo", "hatrpo", "mappo"])
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--rollout-length", type=int, default=32)
    parser.add_argument("--updates-per-chunk", type=int, default=1)
    args = parser.parse_args()
    if args.env == "smax":
        scenarios = [(m, "SMAX", {"map_name": m}) for m in args.maps]
    else:
        scenarios = [
            (f"spread_{n}", "MPE_simple_spread_v3", {"num_agents": n, "num_landmarks": n})
            for n in args.agents
        ]
    rows = []
    for scenario, env, env_kwargs in scenarios:
        for algo in args.algos:
            config = presets[algo].replace(
                env=env,
                env_kwargs=env_kwargs,
                num_envs=args.num_envs,
                rollout_length=args.rollout_length,
                updates_per_chunk=args.updates_per_chunk,
                total_steps=args.num_envs * args.rollout_length * args.updates_per_chunk,
                progress=False,
            )
            agents, lower_s, compile_s = compile_seconds(config)
            rows.append([algo, scenario, agents, f"{lower_s:.2f}", f"{compile_s:.2f}"])
            print(
                f"{algo:7s} {scenario:12s} agents={agents:3d} trace+lower {lower_s:6.2f}s "
                f"compile {compile_s:6.2f}s",
                flush=True,
            )
    path = write_table(
        f"happo_compile_{args.env}",
        ["algo", "scenario", "num_agents", "lower_s", "compile_s"],
        rows,
        vars(args),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
