"""TensorBoard scalars of a run (read back from the event file) and the W&B switch."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from opsutil import TINY_FAKE, use_fake_program

import harlax

TB_EXTRA = "TensorBoard logging needs the 'tb' extra: pip install 'harlax[tb]'"


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
    pytest.importorskip("tensorboardX", reason=TB_EXTRA)
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


def test_win_rate_column_is_won_over_ended_episodes_and_plots(tmp_path):
    """`episodes_won / episodes` per update and seed (empty where no episode ended, as for
    episode_return), right after episode_return; `harlax plot --metric win_rate` reads it."""
    import csv

    from harlax.cli import main
    from harlax.envs.spec import MultiAgentSpec
    from harlax.logging import MetricsWriter, make_run_dir, read_metric

    config = harlax.Config(algo="mappo", env="SMAX", env_kwargs={"map_name": "3m"}, seed=4)
    spec = MultiAgentSpec(("a", "b"), (1, 1), (2, 2), True, 1, 1, win_signal=True)
    run = make_run_dir(config, tmp_path / "run")
    episodes = np.array([[4, 0, 3], [2, 5, 0]])
    won = np.array([[1, 0, 3], [2, 0, 0]])
    metrics = {
        "episodes": episodes,
        "episodes_won": won,
        "episode_return_sum": np.ones((2, 3)),
        "loss": np.zeros((2, 3)),
    }
    writer = MetricsWriter(run, config, spec)
    writer.write_chunk(metrics, 0, 64)
    writer.close()
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert list(rows[0])[:5] == ["seed", "update", "env_steps", "episode_return", "win_rate"]
    got = np.array([[float(r["win_rate"]) if r["win_rate"] else np.nan for r in rows]])
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(episodes > 0, won / np.maximum(episodes, 1), np.nan).reshape(1, -1)
    np.testing.assert_allclose(got, expected)  # NaN (empty cell) where no episode ended
    seed5 = read_metric(run, "win_rate")[5]  # the second seed: 2 of 2, 0 of 5, no episode
    assert seed5[64] == 1.0 and seed5[128] == 0.0 and np.isnan(seed5[192])
    main(["plot", str(run), "-o", str(tmp_path / "win.png"), "--metric", "win_rate"])
    assert (tmp_path / "win.png").read_bytes()[:4] == b"\x89PNG"


def test_no_win_rate_column_without_a_win_signal(tmp_path):
    import csv

    from harlax.envs.spec import MultiAgentSpec
    from harlax.logging import MetricsWriter

    spec = MultiAgentSpec(("a", "b"), (1, 1), (2, 2), True, 1, 1)
    writer = MetricsWriter(tmp_path, harlax.Config(), spec)
    writer.write_chunk({"episodes": np.ones((1, 2)), "episode_return_sum": np.ones((1, 2))}, 0, 8)
    writer.close()
    with (tmp_path / "metrics.csv").open() as f:
        assert "win_rate" not in next(csv.reader(f))
