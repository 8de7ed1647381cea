"""Checkpoints of the whole learner state with orbax: save and restore, nothing else.

A checkpoint holds every leaf of the (seed-batched) learner state: parameters, optimiser
states, normaliser statistics, environment states, RNG keys and the update counter. It is
stored under `<run_dir>/checkpoints/<update>/`, beside the run's `config.json`, so that
`harlax.runs.load(run_dir)` rebuilds the program and the state from the directory alone.

orbax writes each checkpoint into a temporary directory and renames it when complete, so
a process killed during a save leaves the previous checkpoint restorable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from harlax.types import PyTree

CHECKPOINT_DIR = "checkpoints"


def _leaf_name(index: int, path: tuple) -> str:
    return f"{index:04d}_" + re.sub(r"[^A-Za-z0-9]+", "_", jax.tree_util.keystr(path)).strip("_")


def to_items(tree: PyTree) -> dict[str, Any]:
    """Flat `{name: leaf}` of the non-empty leaves (orbax refuses zero-size arrays, e.g. the
    `[B, A, 0]` hidden state of a feed-forward actor)."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {_leaf_name(i, p): x for i, (p, x) in enumerate(leaves) if np.size(x)}


def from_items(items: dict[str, Any], like: PyTree) -> PyTree:
    """Inverse of `to_items`: the tree structure of `like`, empty leaves rebuilt as zeros."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    out = []
    for i, (path, x) in enumerate(leaves):
        out.append(items[_leaf_name(i, path)] if np.size(x) else np.zeros(x.shape, x.dtype))
    return jax.tree_util.tree_unflatten(treedef, out)


class Checkpointer:
    """orbax `CheckpointManager` over `<run_dir>/checkpoints`, keeping the last `keep`.

    Saves are asynchronous (the arrays are copied off the device before `save` returns);
    `wait()` blocks until every started save is committed to disk.
    """

    def __init__(self, run_dir: str | Path, keep: int = 3, read_only: bool = False):
        self.directory = Path(run_dir).absolute() / CHECKPOINT_DIR
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=not read_only, read_only=read_only
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, update: int, state: PyTree) -> None:
        """Start saving `state` as checkpoint `update` (returns before the write ends)."""
        self.manager.save(update, args=ocp.args.StandardSave(to_items(state)), force=True)

    def latest(self) -> int | None:
        """The newest complete checkpoint's update, or None."""
        return self.manager.latest_step()

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def restore(self, like: PyTree, update: int | None = None, shardings: PyTree = None) -> PyTree:
        """Checkpoint `update` (default: the latest) with the structure of `like`, which
        may be abstract (`jax.ShapeDtypeStruct` leaves, e.g. from `jax.eval_shape`).

        Arrays are placed by `shardings` (a tree like `like`, e.g. the program's state
        shardings), else on this process's first device, whatever the topology that saved
        them."""
        update = self.latest() if update is None else update
        if update is None:
            raise FileNotFoundError(f"no complete checkpoint in {self.directory}")
        if shardings is None:
            device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
            shardings = jax.tree.map(lambda _: device, like)
        target = jax.tree.map(
            lambda x, s: jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=s), like, shardings
        )
        items = self.manager.restore(update, args=ocp.args.StandardRestore(to_items(target)))
        return from_items(items, like)

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()
