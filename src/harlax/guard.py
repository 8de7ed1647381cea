"""Stop a run at the first NaN or Inf in a metric (losses, ...) or a parameter."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from harlax.types import Array, PyTree


class NonFiniteError(FloatingPointError):
    """A loss or a parameter became NaN or Inf; the message names the update and quantity."""


def params_finite(state: PyTree) -> dict[str, Array]:
    """`{field: bool []}` for every field of the learner state whose name ends in `params`:
    whether all its floating leaves are finite. Traced inside the compiled chunk."""
    fields = state._asdict() if hasattr(state, "_asdict") else {"params": state}
    out = {}
    for name, value in fields.items():
        if not name.endswith("params"):
            continue
        leaves = [
            jnp.all(jnp.isfinite(x))
            for x in jax.tree.leaves(value)
            if jnp.issubdtype(x.dtype, jnp.inexact)
        ]
        out[name] = jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)
    return out


def check_chunk(
    metrics: dict[str, np.ndarray], finite: dict[str, np.ndarray], first_update: int, seed0: int = 0
) -> None:
    """Raise `NonFiniteError` at the first bad update of a chunk (host side).

    `metrics`: name -> `[num_seeds, updates_in_chunk, ...]`; `finite`: field ->
    `[num_seeds]`, the parameters after the chunk's last update; `first_update`: the
    number of updates done before the chunk. A boolean metric `trained` `[num_seeds,
    updates_in_chunk]`, where present, marks the updates that trained: the others report
    NaN training metrics on purpose (off-policy learners before `learning_starts`).
    """
    problems = []  # (update, seed, quantity)
    trained = np.asarray(metrics["trained"], bool) if "trained" in metrics else True
    for name, value in sorted(metrics.items()):
        value = np.asarray(value)
        if not np.issubdtype(value.dtype, np.inexact):
            continue
        bad = ~np.isfinite(value.reshape(value.shape[0], value.shape[1], -1)).all(axis=-1)
        bad &= trained
        for seed, u in zip(*np.nonzero(bad), strict=True):
            problems.append((first_update + int(u) + 1, int(seed), f"metric {name!r}"))
    last = first_update + next(iter(metrics.values())).shape[1]
    for name, ok in sorted(finite.items()):
        for seed in np.nonzero(~np.asarray(ok))[0]:
            problems.append((last, int(seed), f"parameters {name!r}"))
    if problems:
        update, seed, quantity = min(problems)
        others = sorted({q for u, _, q in problems if u == update} - {quantity})
        also = f" (also {', '.join(others)})" if others else ""
        raise NonFiniteError(
            f"update {update}, seed {seed0 + seed}: {quantity} is NaN or Inf{also}"
        )
