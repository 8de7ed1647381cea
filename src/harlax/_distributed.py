"""Join a multi-host run named by the environment, before anything starts a JAX backend.

`jax.distributed.initialize` must run before the first JAX computation, and importing the
environment libraries already computes, so `harlax/__init__.py` imports this module first.
It acts only when `JAX_COORDINATOR_ADDRESS` is set (with `JAX_NUM_PROCESSES` and
`JAX_PROCESS_ID`, unless the cluster - SLURM, Open MPI, Kubernetes - supplies them);
`harlax train --coordinator-address A --num-processes N --process-id I` sets these and
restarts itself.
"""

from __future__ import annotations

import os


def _join() -> None:
    address = os.environ.get("JAX_COORDINATOR_ADDRESS")
    if not address:
        return
    import jax

    # CPU collectives across processes go through gloo (no effect on GPU/TPU backends).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    num = os.environ.get("JAX_NUM_PROCESSES")
    pid = os.environ.get("JAX_PROCESS_ID")
    jax.distributed.initialize(
        coordinator_address=address,
        num_processes=None if num is None else int(num),
        process_id=None if pid is None else int(pid),
    )


_join()
