"""The optimal-baseline toy example of Kuba et al. (NeurIPS 2021), exactly and by sampling.

Agent i has three actions with policy (0.8, 0.1, 0.1) and Q values (2, 1, 100) (the other
agents' actions fixed). For vanilla MAPG (b = 0), COMA (b = E_pi Q) and OB, print the
variance (trace of the covariance) of the gradient estimator `(e_a - pi)(Q(a) - b)` with
respect to the logits: exactly, by enumeration (`harlax.baselines.softmax_pg_variance`),
and from sampled actions. Writes `benchmarks/results/ob_toy.csv`.

    python benchmarks/ob_toy.py [--samples 1000000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from harlax.baselines import discrete_baseline, softmax_pg_variance
from harlax.envs.matrix import OB_TOY_POLICY, OB_TOY_Q

ESTIMATORS = {"vanilla MAPG": "none", "COMA": "coma", "OB": "ob"}
RESULTS = Path(__file__).parent / "results"


def sampled_variance(rng: np.random.Generator, probs, q, b: float, samples: int) -> float:
    """Trace of the sample covariance of the estimator over `samples` sampled actions."""
    actions = rng.choice(len(probs), size=samples, p=probs)
    grads = (np.eye(len(probs))[actions] - probs) * (q[actions] - b)[:, None]
    return float(np.sum(np.var(grads, axis=0, ddof=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "ob_toy.csv")
    args = parser.parse_args()

    probs, q = OB_TOY_POLICY.astype(np.float64), OB_TOY_Q.astype(np.float64)
    rng = np.random.default_rng(args.seed)
    rows = []
    for name, kind in ESTIMATORS.items():
        b = float(discrete_baseline(kind, jnp.asarray(probs), jnp.asarray(q)))
        exact = float(softmax_pg_variance(jnp.asarray(probs), jnp.asarray(q), jnp.asarray(b)))
        sampled = sampled_variance(rng, probs, q, b, args.samples)
        rows.append((name, kind, b, exact, sampled))
    vanilla, coma = rows[0][3], rows[1][3]

    header = f"{'estimator':<14}{'baseline':>10}{'exact var':>12}{'sampled var':>13}"
    header += f"{'vs vanilla':>12}{'vs COMA':>10}"
    print(f"policy {probs.tolist()}, Q {q.tolist()}, {args.samples} sampled actions")
    print(header)
    for name, _, b, exact, sampled in rows:
        print(f"{name:<14}{b:>10.3f}{exact:>12.2f}{sampled:>13.2f}"
              f"{exact / vanilla:>12.3f}{exact / coma:>10.3f}")  # fmt: skip

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        f.write("# OB toy example (Kuba et al., NeurIPS 2021): variance of the gradient "
                "estimator w.r.t. the logits\n")  # fmt: skip
        f.write(f"# policy={probs.tolist()} q={q.tolist()} samples={args.samples} "
                f"seed={args.seed}\n")  # fmt: skip
        f.write(f"# machine={platform.machine()} cpus={os.cpu_count()} "
                f"python={platform.python_version()}\n")  # fmt: skip
        f.write("estimator,baseline_kind,baseline,exact_variance,sampled_variance,"
                "ratio_to_vanilla,ratio_to_coma\n")  # fmt: skip
        for name, kind, b, exact, sampled in rows:
            f.write(f"{name},{kind},{b:.6f},{exact:.4f},{sampled:.4f},"
                    f"{exact / vanilla:.4f},{exact / coma:.4f}\n")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
