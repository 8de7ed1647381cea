"""The environment batch sharded over a device mesh: 1 device and 4 (fake CPU) devices give
the same metrics and parameters to float tolerance."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from opsutil import TINY_REAL

import harlax
from harlax.parallel import ENV_AXIS, make_mesh, state_shardings
from harlax.train import seed_keys

SRC = str(Path(harlax.__file__).resolve().parents[1])

FOUR_DEVICES = textwrap.dedent("""
    import sys
    import jax, numpy as np
    import harlax
    from harlax.train import compiled, seed_keys
    from opsutil import TINY_REAL

    assert jax.device_count() == 4, jax.devices()
    config = TINY_REAL.replace(num_devices=4)
    result = harlax.train(config, write=False)
    _, init, _, _ = compiled(config)
    state = init(seed_keys(config))
    spread = len(state.runner.first.sharding.device_set)
    flat = {"metric/" + k: v for k, v in result.metrics.items()}
    leaves = jax.tree_util.tree_flatten_with_path(result.params)[0]
    flat.update({"param/" + jax.tree_util.keystr(p): v for p, v in leaves})
    np.savez(sys.argv[1], spread=spread, **flat)
""")


def test_validation_refuses_env_counts_that_do_not_split(monkeypatch):
    monkeypatch.setattr(jax, "device_count", lambda: 4)
    with pytest.raises(ValueError, match=r"Config.num_envs: 8 environments .* 3 devices.*Fix"):
        TINY_REAL.replace(num_devices=3).validate()
    with pytest.raises(ValueError, match=r"Config.num_devices.*Fix"):
        TINY_REAL.replace(num_devices=5).validate()
    TINY_REAL.replace(num_devices=4).validate()


def test_only_the_environment_batch_is_split():
    program = harlax.make_train(TINY_REAL)
    like = jax.eval_shape(jax.vmap(program.init), seed_keys(TINY_REAL))
    shardings = state_shardings(like, make_mesh(1))
    assert shardings.runner.first.spec == jax.P(None, ENV_AXIS)
    assert all(s.spec == jax.P() for s in jax.tree.leaves(shardings.actor_params))
    assert shardings.key.spec == jax.P()


@pytest.mark.slow
def test_one_and_four_devices_give_the_same_numbers(tmp_path):
    out = tmp_path / "four.npz"
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
        PYTHONPATH=os.pathsep.join([SRC, str(Path(__file__).parent)]),
    )
    child = subprocess.run(
        [sys.executable, "-c", FOUR_DEVICES, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    four = np.load(out)
    assert int(four["spread"]) == 4  # the environment batch really lies on 4 devices
    assert jax.device_count() == 1  # so TINY_REAL (all devices) is the 1-device program
    one = harlax.train(TINY_REAL, write=False)
    for name, values in one.metrics.items():
        np.testing.assert_allclose(
            four["metric/" + name], values, rtol=2e-4, atol=1e-5, err_msg=name
        )
    for path, values in jax.tree_util.tree_flatten_with_path(one.params)[0]:
        np.testing.assert_allclose(
            four["param/" + jax.tree_util.keystr(path)], values, rtol=2e-4, atol=1e-5
        )
