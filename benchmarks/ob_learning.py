"""Learning with and without the optimal baseline: MAPPO vs MAPPO+OB, HAPPO vs HAPPO+OB.

Every (environment, algorithm) pair trains `--seeds` seeds in one compiled program
(a vmap over seeds) and logs, besides returns, `pg_grad_var`: the variance (trace of the
covariance) of the vanilla policy gradient `-mean(log pi * signal)` across
`--grad-splits` random minibatches of each rollout, where the signal is the learner's raw
advantage (GAE for the V-critic algorithms, X = Q - b for the Q-critic ones).

Outputs, under benchmarks/results/ (`--tag` names them):
  ob_learning_<tag>.csv         per pair: final return (mean of the last 10% of updates)
                                with a 95% t-interval over seeds, mean pg_grad_var,
                                steps, compile and run seconds, per-seed final returns
  ob_learning_<tag>_curves.csv  per pair and logged update: mean return over seeds and
                                mean pg_grad_var (thinned to at most 50 points)
  ob_learning_<tag>.png         learning curves with 95% bands (if matplotlib is present)

    python -m benchmarks.ob_learning --total-steps 2048000 --num-envs 64 --tag cpu
    python -m benchmarks.ob_learning --envs spread --algos mappo mappo_ob coma \\
        mappo_none --total-steps 204800
    python -m benchmarks.ob_learning --envs smax_3m halfcheetah_6x1 --tag paper_envs
    python -m benchmarks.ob_learning --envs mabrax_halfcheetah_6x1 --num-envs 32 \\
        --rollout-length 50 --updates-per-chunk 16 --overrides '{"ent_coef": 0.0}'

Algorithm names are presets (mappo, mappo_ob, happo, happo_ob, hatrpo, hatrpo_ob, coma)
or one of `EXTRA_ALGOS`: `mappo_none` and `mappo_coma` (MAPPO's Q critic and return signal
without a baseline and with COMA's), `mappo_ob_critic` / `happo_ob_critic` (the OB
subtracted from the critic's Q instead of the lambda-return).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np

import harlax
from benchmarks.common import carry_forward, t_interval
from harlax.logging import episode_returns, win_rates
from harlax.named_configs import presets
from harlax.train import compile_program, seed_keys

RESULTS = Path(__file__).parent / "results"
ENVS = {
    "spread": ("MPE_simple_spread_v3", {}),
    "spread_continuous": ("MPE_simple_spread_v3", {"action_type": "Continuous"}),
    # Not run by default: SMAX compiles slowly on CPU; MaMuJoCo needs harlax[mujoco].
    "smax_3m": ("SMAX", {"map_name": "3m"}),
    "halfcheetah_6x1": ("mamujoco:HalfCheetah-6x1", {}),
    # The same scenario on JaxMARL's MABrax: 5x faster than MJX on CPU.
    "mabrax_halfcheetah_6x1": ("halfcheetah_6x1", {}),
}
DEFAULT_ENVS = ["spread", "spread_continuous"]
# One Q critic, one signal: the baselines compared as in the OB paper's ablation
# (q_signal "return" unless the name says "critic"; see Config.q_signal).
EXTRA_ALGOS = {
    "mappo_none": ("mappo_ob", {"baseline": "none"}),
    "mappo_coma": ("mappo_ob", {"baseline": "coma"}),
    "mappo_ob_critic": ("mappo_ob", {"q_signal": "critic"}),
    "happo_ob_critic": ("happo_ob", {"q_signal": "critic"}),
    # SMAX: MAPPO with dead agents' samples kept in every mean (no active masks).
    "mappo_nomask": ("mappo", {"use_policy_active_masks": False, "use_value_active_masks": False}),
}


def make_config(algo: str, env: str, args: argparse.Namespace) -> harlax.Config:
    base, changes = EXTRA_ALGOS.get(algo, (algo, {}))
    name, env_kwargs = ENVS[env]
    return presets[base].replace(
        env=name,
        env_kwargs=env_kwargs,
        num_seeds=args.seeds,
        seed=args.seed,
        total_steps=args.total_steps,
        num_envs=args.num_envs,
        rollout_length=args.rollout_length,
        updates_per_chunk=args.updates_per_chunk,
        ob_samples=args.ob_samples,
        grad_variance_splits=args.grad_splits,
        hidden_dim=args.hidden_dim,
        progress=False,
        **{**changes, **json.loads(args.overrides)},
    )


def run_pair(config: harlax.Config) -> dict:
    """Train all seeds; returns the metrics we report and the timings."""
    program = harlax.make_train(config)
    init, run_chunk = compile_program(program)
    state = init(seed_keys(config))
    start = time.perf_counter()
    state, metrics = run_chunk(state)  # the first chunk includes compilation
    jax.block_until_ready(metrics)
    compile_and_first = time.perf_counter() - start
    chunks = [jax.device_get(metrics)]
    start = time.perf_counter()
    lengths = program.derived.chunk_lengths
    if len(set(lengths)) > 1:  # compile_program's run_chunk has the default length only
        raise ValueError(f"ob_learning: the run's updates must divide into chunks: {lengths}")
    for _ in lengths[1:]:
        state, metrics = run_chunk(state)
        chunks.append(jax.device_get(metrics))
    run_seconds = time.perf_counter() - start
    merged = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]}
    return {
        "returns": episode_returns(merged),  # [seeds, updates], NaN where no episode ended
        "grad_var": merged["pg_grad_var"],  # [seeds, updates]
        "ob_ess": float(np.mean(merged["ob_ess"])) if "ob_ess" in merged else float("nan"),
        "win_rate": win_rates(merged),  # [seeds, updates] or None (no win signal)
        "compile_s": compile_and_first,
        "run_s": run_seconds,
        "steps_per_update": program.derived.steps_per_update,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=DEFAULT_ENVS, choices=list(ENVS))
    parser.add_argument("--algos", nargs="+", default=["mappo", "mappo_ob", "happo", "happo_ob"])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--total-steps", type=int, default=409_600)
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--rollout-length", type=int, default=64)
    parser.add_argument("--updates-per-chunk", type=int, default=10)
    parser.add_argument("--hidden-dim", type=int, default=64)
    parser.add_argument("--ob-samples", type=int, default=200)
    parser.add_argument("--grad-splits", type=int, default=8)
    parser.add_argument("--tag", default="cpu")
    parser.add_argument("--overrides", default="{}", help="JSON dict of Config fields")
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    header = [
        "# MAPPO / HAPPO with and without the optimal baseline (Kuba et al., NeurIPS 2021)",
        f"# machine={platform.machine()} cpus={os.cpu_count()} "
        f"devices={[d.device_kind for d in jax.devices()]} jax={jax.__version__}",
        f"# settings={vars(args)} XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}",
        "# final_return: mean episode return over the last 10% of updates, mean over seeds "
        "+- 95% t-interval; pg_grad_var: mean over updates and seeds; q_signal: what the "
        "Q baseline is subtracted from; ob_ess: mean effective sample size of the Gaussian OB; "
        "win_rate_per_seed: won / ended episodes over the last 10% of updates (SMAX)",
    ]
    summary, curves, plotted = [], [], []
    for env in args.envs:
        for algo in args.algos:
            config = make_config(algo, env, args)
            result = run_pair(config)
            returns, grad_var = result["returns"], result["grad_var"]
            tail = max(1, returns.shape[1] // 10)
            with np.errstate(all="ignore"):
                final = np.nanmean(returns[:, -tail:], axis=1)  # [seeds]
            mean, half = map(float, t_interval(final[np.isfinite(final)]))  # finite seeds
            wins = result["win_rate"]
            win = np.full(returns.shape[0], np.nan) if wins is None else wins[:, -tail:]
            with np.errstate(all="ignore"):
                win = np.nanmean(win.reshape(len(win), -1), axis=1)  # [seeds]
            row = (env, algo, mean, half, float(np.mean(grad_var)),
                   result["steps_per_update"] * returns.shape[1], result["compile_s"],
                   result["run_s"], " ".join(f"{x:.2f}" for x in final),
                   config.validate().q_signal, result["ob_ess"],
                   " ".join(f"{x:.3f}" for x in win))  # fmt: skip
            summary.append(row)
            print(
                f"{env} {algo}: final return {mean:.2f} +- {half:.2f}, pg_grad_var "
                f"{row[4]:.4g}, {row[5]} steps, first chunk (with compile) "
                f"{row[6]:.0f}s, rest {row[7]:.0f}s",
                flush=True,
            )
            curve = carry_forward(returns)  # [seeds, updates]
            thin = max(1, returns.shape[1] // 50)
            for u in range(0, returns.shape[1], thin):
                with np.errstate(all="ignore"):
                    curves.append((env, algo, (u + 1) * result["steps_per_update"],
                                   float(np.nanmean(curve[:, u])),
                                   float(np.mean(grad_var[:, u]))))  # fmt: skip
            plotted.append((env, algo, curve, result["steps_per_update"]))
            write_outputs(args.tag, header, summary, curves)  # after every pair: partial runs
    plot(plotted, RESULTS / f"ob_learning_{args.tag}.png")


def write_outputs(tag: str, header: list[str], summary: list, curves: list) -> None:
    out = RESULTS / f"ob_learning_{tag}.csv"
    with open(out, "w") as f:
        f.write("\n".join(header) + "\n")
        f.write(
            "env,algo,final_return,ci95,pg_grad_var,env_steps,first_chunk_s,run_s,per_seed,"
            "q_signal,ob_ess,win_rate_per_seed\n"
        )
        for r in summary:
            f.write(f"{r[0]},{r[1]},{r[2]:.4f},{r[3]:.4f},{r[4]:.6g},{r[5]},{r[6]:.1f},"
                    f"{r[7]:.1f},{r[8]},{r[9]},{r[10]:.1f},{r[11]}\n")  # fmt: skip
    with open(RESULTS / f"ob_learning_{tag}_curves.csv", "w") as f:
        f.write("\n".join(header) + "\n")
        f.write("env,algo,env_steps,mean_return,pg_grad_var\n")
        for r in curves:
            f.write(f"{r[0]},{r[1]},{r[2]},{r[3]:.4f},{r[4]:.6g}\n")
    print(f"wrote {out}", flush=True)


def plot(plotted: list, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    envs = sorted({p[0] for p in plotted})
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 3.5), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        for e, algo, returns, steps in plotted:
            if e != env:
                continue
            x = steps * np.arange(1, returns.shape[1] + 1)
            with np.errstate(all="ignore"):
                mean = np.nanmean(returns, axis=0)
                sem = np.nanstd(returns, axis=0, ddof=1) / np.sqrt(returns.shape[0])
            ax.plot(x, mean, label=algo)
            ax.fill_between(x, mean - 1.96 * sem, mean + 1.96 * sem, alpha=0.2)
        ax.set_title(env)
        ax.set_xlabel("environment steps per seed")
        ax.set_ylabel("episode return")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
