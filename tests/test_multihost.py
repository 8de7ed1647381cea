"""Two JAX processes on localhost (CPU, gloo collectives) train one run together: both
finish with identical parameters, and only process 0 writes the run's files."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import harlax

SRC = str(Path(harlax.__file__).resolve().parents[1])

WORKER = textwrap.dedent("""
    import sys
    import harlax  # joins the run named by JAX_COORDINATOR_ADDRESS etc. (harlax._distributed)
    import jax, numpy as np
    run_dir, out = sys.argv[1], sys.argv[2]
    from opsutil import TINY_REAL
    assert jax.process_count() == 2 and jax.device_count() == 2, jax.devices()
    result = harlax.train(TINY_REAL.replace(out=run_dir, checkpoint_every=2))
    leaves = jax.tree_util.tree_flatten_with_path(result.params)[0]
    np.savez(out, **{jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves})
    print("finished", jax.process_index(), flush=True)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_finish_with_identical_parameters(tmp_path):
    address = f"127.0.0.1:{_free_port()}"
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        PYTHONPATH=os.pathsep.join([SRC, str(Path(__file__).parent)]),
    )
    env.pop("XLA_FLAGS", None)
    run_dir = tmp_path / "run"
    children = []
    for pid in (0, 1):
        variables = {
            "JAX_COORDINATOR_ADDRESS": address,
            "JAX_NUM_PROCESSES": "2",
            "JAX_PROCESS_ID": str(pid),
        }
        command = [sys.executable, "-c", WORKER, str(run_dir), str(tmp_path / f"{pid}")]
        children.append(
            subprocess.Popen(
                command,
                env={**env, **variables},
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    outputs = [child.communicate(timeout=900) for child in children]
    for child, (_out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err[-3000:]
    params = [np.load(tmp_path / f"{pid}.npz") for pid in (0, 1)]
    assert sorted(params[0].files) == sorted(params[1].files)
    for name in params[0].files:
        np.testing.assert_array_equal(params[0][name], params[1][name], err_msg=name)
    with (run_dir / "metrics.csv").open() as f:
        rows = list(csv.reader(line for line in f if not line.startswith("#")))
    assert len(rows) == 1 + 2 * 4  # one header, one row per seed and update: one writer
    assert harlax.load(run_dir).update == 4
