"""Fixed-seed fingerprints of tiny runs, to show a refactor changes no number.

Trains IPPO, MAPPO (feed-forward and recurrent), HAPPO, HATRPO, MAPPO+OB (discrete and
continuous), COMA and MADDPG (discrete and continuous) on tiny settings and saves every
metric and final parameter. Run it before and after a change on the same machine:

    python -m benchmarks.fingerprint /tmp/before.npz      # on the old commit
    python -m benchmarks.fingerprint /tmp/after.npz       # on the new one
    python -m benchmarks.fingerprint --compare /tmp/before.npz /tmp/after.npz

The comparison is exact (bit for bit, NaN equal to NaN).
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

import harlax

BASE = harlax.Config(
    total_steps=512,
    num_envs=4,
    rollout_length=16,
    num_epochs=2,
    num_minibatches=2,
    updates_per_chunk=4,
    hidden_dim=16,
    num_seeds=2,
    progress=False,
)
MADDPG = dict(
    algo="maddpg",
    total_steps=256,
    rollout_length=8,
    buffer_size=512,
    batch_size=16,
    learning_starts=32,
    gradient_steps=2,
    num_epochs=4,  # the defaults: MADDPG reads neither
    num_minibatches=4,
)
CONTINUOUS = {"action_type": "Continuous"}
RUNS = {
    "ippo": dict(algo="ippo"),
    "mappo": dict(algo="mappo"),
    "mappo_rnn": dict(algo="mappo", recurrent=True),
    "happo": dict(algo="happo"),
    "hatrpo": dict(algo="hatrpo"),
    "mappo_ob_return": dict(algo="mappo_ob", q_signal="return"),
    "mappo_ob_cont": dict(algo="mappo_ob", env_kwargs=CONTINUOUS, ob_samples=8),
    "coma": dict(algo="coma"),
    "maddpg": MADDPG,
    "maddpg_cont": dict(MADDPG, env_kwargs=CONTINUOUS),
}


def fingerprint() -> dict[str, np.ndarray]:
    out = {}
    for name, changes in RUNS.items():
        result = harlax.train(BASE.replace(**changes), write=False)
        for metric, value in result.metrics.items():
            out[f"{name}/{metric}"] = np.asarray(value)
        for path, leaf in jax.tree_util.tree_flatten_with_path(result.params)[0]:
            out[f"{name}/params{jax.tree_util.keystr(path)}"] = np.asarray(leaf)
        print(name, "done", flush=True)
    return out


def compare(before_path: str, after_path: str) -> int:
    before, after = np.load(before_path), np.load(after_path)
    missing = [k for k in before.files if k not in after.files]
    added = [k for k in after.files if k not in before.files]
    differ = [
        k
        for k in before.files
        if k in after.files
        and not (
            before[k].shape == after[k].shape
            and np.array_equal(before[k], after[k], equal_nan=True)
        )
    ]
    print(
        f"{len(before.files)} arrays: {len(differ)} differ, {len(missing)} gone, {len(added)} new"
    )
    for kind, names in (("differs", differ), ("gone", missing), ("new", added)):
        for k in names:
            print(f"  {kind}: {k}")
    return 1 if differ else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    if args.compare:
        raise SystemExit(compare(*args.paths))
    np.savez(args.paths[0], **fingerprint())


if __name__ == "__main__":
    main()
