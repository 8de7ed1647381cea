"""TensorBoard scalars of a run (read back from the event file) and the W&B switch."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from opsutil import TINY_FAKE, use_fake_program

import harlax


def read_scalars(directory) -> dict[str, dict[int, float]]:
    """Scalars of every TFRecord event file under `directory` (no TensorFlow needed)."""
    from tensorboardX.proto import event_pb2

    out: dict[str, dict[int, float]] = {}
    for path in directory.glob("events.out.tfevents.*"):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                out.setdefault(value.tag, {})[event.step] = value.simple_value
    return out


def test_tensorboard_holds_the_seed_mean_of_each_metric(tmp_path, monkeypatch):
    use_fake_program(monkeypatch)
    result = harlax.train(TINY_FAKE.replace(tensorboard=True, out=str(tmp_path / "r")))
    scalars = read_scalars(tmp_path / "r" / "tb")
    assert {"train/episode_return", "train/loss", "train/episodes"} <= set(scalars)
    steps_per_update = TINY_FAKE.num_envs * TINY_FAKE.rollout_length
    returns = result.metrics["episode_return_sum"] / result.metrics["episodes"]
    expected = {(u + 1) * steps_per_update: float(np.mean(returns[:, u])) for u in range(6)}
    assert sorted(scalars["train/episode_return"]) == sorted(expected)
    for step, value in expected.items():
        assert scalars["train/episode_return"][step] == pytest.approx(value, rel=1e-5)


def test_wandb_is_off_by_default_and_named_when_missing(tmp_path, monkeypatch):
    import sys

    use_fake_program(monkeypatch)
    assert harlax.Config().wandb_project is None
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    with pytest.raises(ImportError, match=r"harlax\[wandb\]"):
        harlax.train(TINY_FAKE.replace(wandb_project="p", out=str(tmp_path / "r")))
