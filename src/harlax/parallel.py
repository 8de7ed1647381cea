"""The device mesh: the environment batch of one program is sharded over devices.

The learner state's environment-batched leaves (`state.runner`, leaves `[S, B, ...]` with
seeds `S` and environments `B`) are split along `B` over a one-axis mesh named "envs";
everything else (parameters, optimiser states, keys) is replicated. The program is the same
`jit` on any number of devices (auto-sharded, `NamedSharding` on its inputs and outputs):
XLA partitions the rollout by environment and inserts the all-reduces that average the
gradients over the mesh. A one-device mesh runs the same code.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from harlax.types import PyTree

ENV_AXIS = "envs"


def resolve_num_devices(num_devices: int | None) -> int:
    """`num_devices`, or every device visible to this process when None."""
    return jax.device_count() if num_devices is None else num_devices


def check_devices(num_devices: int | None, num_envs: int) -> None:
    """Raise ValueError (naming the Config field) unless `num_devices` (None: all) is a
    number of devices JAX sees that divides the environment batch."""
    available = jax.device_count()
    devices = available if num_devices is None else num_devices
    if not isinstance(devices, int) or isinstance(devices, bool) or not 1 <= devices <= available:
        raise ValueError(
            f"Config.num_devices: must be an integer in [1, {available}] (the devices JAX "
            f"sees), got {num_devices!r}. Fix: use None (all {available}) or a number up to it"
        )
    if num_envs % devices:
        raise ValueError(
            f"Config.num_envs: {num_envs} environments do not split evenly over {devices} "
            f"devices. Fix: use a multiple of {devices}, or set num_devices to a divisor of "
            f"{num_envs}"
        )


def make_mesh(num_devices: int | None = None) -> jax.sharding.Mesh:
    """A one-axis mesh ("envs") over the first `num_devices` devices."""
    n = resolve_num_devices(num_devices)
    return jax.make_mesh((n,), (ENV_AXIS,), axis_types=(AxisType.Auto,), devices=jax.devices()[:n])


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def state_shardings(state: PyTree, mesh: jax.sharding.Mesh) -> PyTree:
    """Shardings for a seed-batched learner state (concrete or abstract): the leaves of its
    `runner` field are split along axis 1 (environments), the rest replicated."""
    split = NamedSharding(mesh, P(None, ENV_AXIS))
    full = replicated(mesh)
    fields = state._asdict() if hasattr(state, "_asdict") else None
    if fields is None or "runner" not in fields:
        return jax.tree.map(lambda _: full, state)

    def leaf(x):
        return split if np.ndim(x) >= 2 else full

    out = {
        name: jax.tree.map(leaf if name == "runner" else (lambda _: full), value)
        for name, value in fields.items()
    }
    return type(state)(**out)


def is_main_process() -> bool:
    """Only process 0 writes logs, plots and evaluation files (all processes take part in
    checkpoints, which orbax coordinates)."""
    return jax.process_index() == 0


def replicate(x, mesh: jax.sharding.Mesh) -> jax.Array:
    """A host value as one global array replicated over `mesh` (every process passes the
    same value; needed where the mesh spans processes)."""
    return jax.make_array_from_process_local_data(replicated(mesh), np.asarray(x))
