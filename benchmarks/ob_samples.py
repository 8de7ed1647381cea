"""Cost against effective sample size of the sampled (Gaussian) optimal baseline.

The OB's self-normalised weights `w = sum_d (z^2 + (z^2 - 1)^2) / std^2` are heavy-tailed,
so K sampled own actions give an effective sample size (Kish) of about 0.11 K per action
dimension. For each K in `--samples` this trains MAPPO+OB for a few updates and records
the time per update (compilation excluded) and the mean `ob_ess` logged by the learner;
MAPPO on a V critic is the reference time.

    python -m benchmarks.ob_samples --env mabrax_halfcheetah_6x1 --samples 50 200 1000

Output: benchmarks/results/ob_samples_<tag>.csv (machine and settings in `#` lines).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np

from benchmarks.ob_learning import ENVS
from harlax.named_configs import presets
from harlax.train import compile_program, make_train, seed_keys

RESULTS = Path(__file__).parent / "results"


def time_per_update(config, chunks: int) -> tuple[float, float]:
    """`(seconds per update after the first (compiling) chunk, mean ob_ess or NaN)`."""
    program = make_train(config)
    init, run_chunk = compile_program(program)
    state = init(seed_keys(config))
    state, metrics = run_chunk(state)
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    ess = []
    for _ in range(chunks):
        state, metrics = run_chunk(state)
        ess.append(np.asarray(metrics.get("ob_ess", np.nan)))
    jax.block_until_ready(state)
    seconds = (time.perf_counter() - start) / (chunks * config.updates_per_chunk)
    return seconds, float(np.mean(ess))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="mabrax_halfcheetah_6x1", choices=list(ENVS))
    parser.add_argument("--samples", nargs="+", type=int, default=[50, 200, 1000])
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--rollout-length", type=int, default=50)
    parser.add_argument("--updates-per-chunk", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=2, help="timed chunks per setting")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args()

    name, env_kwargs = ENVS[args.env]
    steps = args.num_envs * args.rollout_length * args.updates_per_chunk * (args.chunks + 1)

    def config(algo: str, k: int):
        return presets[algo].replace(
            env=name, env_kwargs=env_kwargs, num_envs=args.num_envs,
            rollout_length=args.rollout_length, updates_per_chunk=args.updates_per_chunk,
            total_steps=steps, num_seeds=args.seeds, ob_samples=k, progress=False,
        )  # fmt: skip

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ob_samples_{args.tag}.csv"
    header = (
        "# Gaussian OB: time per update and effective sample size against ob_samples (K)\n"
        f"# machine={platform.machine()} cpus={os.cpu_count()} "
        f"devices={[d.device_kind for d in jax.devices()]} jax={jax.__version__}\n"
        f"# settings={vars(args)}; time per update excludes compilation; ob_ess: mean over "
        "states, agents and timed updates\n"
        "algo,ob_samples,s_per_update,ob_ess,ess_per_sample\n"
    )
    rows = []
    seconds, _ = time_per_update(config("mappo", 1), args.chunks)
    rows.append(f"mappo,0,{seconds:.4f},nan,nan")
    print(rows[-1], flush=True)
    for k in args.samples:
        seconds, ess = time_per_update(config("mappo_ob", k), args.chunks)
        rows.append(f"mappo_ob,{k},{seconds:.4f},{ess:.2f},{ess / k:.4f}")
        print(rows[-1], flush=True)
        out.write_text(header + "\n".join(rows) + "\n")  # after every setting
    out.write_text(header + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
