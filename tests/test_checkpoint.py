"""Checkpoints of the whole learner state, resume, kill -9 during a save, and the NaN guard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from opsutil import TINY_FAKE, TINY_REAL, use_fake_program

import harlax
from harlax.checkpoint import Checkpointer, from_items, to_items
from harlax.guard import NonFiniteError, check_chunk
from harlax.logging import load_params

SRC = str(Path(harlax.__file__).resolve().parents[1])


def assert_trees_equal(a, b):
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_items_round_trip_keeps_structure_and_empty_leaves():
    tree = {"a": (np.arange(3.0), np.zeros((2, 0))), "b": {"c": np.int32(4)}}
    items = to_items(tree)
    assert len(items) == 2  # the zero-size leaf is not stored
    assert_trees_equal(from_items(items, tree), tree)


def test_config_refuses_cadence_that_is_not_whole_chunks():
    with pytest.raises(ValueError, match="checkpoint_every.*Fix"):
        TINY_REAL.replace(updates_per_chunk=2, checkpoint_every=3).validate()
    with pytest.raises(ValueError, match="eval_every.*Fix"):
        TINY_REAL.replace(eval_every=-1).validate()
    with pytest.raises(ValueError, match="keep_checkpoints.*Fix"):
        TINY_REAL.replace(keep_checkpoints=0).validate()


def test_checkpoints_every_n_keep_last_k_and_load(tmp_path, monkeypatch):
    use_fake_program(monkeypatch)
    config = TINY_FAKE.replace(checkpoint_every=2, keep_checkpoints=2, out=str(tmp_path / "r"))
    result = harlax.train(config)
    checkpointer = Checkpointer(result.run_dir, read_only=True)
    assert checkpointer.steps() == [4, 6]  # every 2 updates (and at the end), last 2 kept
    loaded = harlax.load(result.run_dir)
    assert loaded.update == 6 and loaded.config == config
    np.testing.assert_array_equal(loaded.state.actor_params["w"], result.params["actor"]["w"])
    assert int(loaded.state.update[0]) == 6
    older = harlax.load(result.run_dir, update=4)
    assert int(older.state.update[1]) == 4


def test_a_shorter_last_chunk_runs_the_same_updates(tmp_path, monkeypatch):
    """6 updates in chunks of 4 + 2 give the metrics and parameters of chunks of 1, and
    the run ends with a checkpoint at update 6 that a stopped run resumes into."""
    use_fake_program(monkeypatch)
    ones = harlax.train(TINY_FAKE, write=False)
    config = TINY_FAKE.replace(updates_per_chunk=4, out=str(tmp_path / "r"))
    assert config.validate().chunk_lengths == (4, 2)
    chunked = harlax.train(config)
    assert chunked.metrics["loss"].shape == (2, 6)
    assert_trees_equal(ones.metrics, chunked.metrics)
    assert_trees_equal(ones.params, chunked.params)
    assert Checkpointer(config.out, read_only=True).steps() == [6]
    part = config.replace(out=str(tmp_path / "part"))
    harlax.train(part, stop_after=4)
    assert_trees_equal(harlax.resume(part.out).params, chunked.params)


def test_fake_resume_is_bit_identical(tmp_path, monkeypatch):
    use_fake_program(monkeypatch)
    full = harlax.train(TINY_FAKE.replace(out=str(tmp_path / "full")))
    part = TINY_FAKE.replace(out=str(tmp_path / "part"))
    harlax.train(part, stop_after=2)
    harlax.resume(part.out, stop_after=2)
    resumed = harlax.resume(part.out)
    assert_trees_equal(full.params, resumed.params)
    csv_text = [(tmp_path / run / "metrics.csv").read_text() for run in ("full", "part")]
    assert csv_text[0] == csv_text[1]


@pytest.mark.slow
def test_resume_of_real_learner_is_bit_identical(tmp_path):
    """2N updates == N updates, stopped, then resumed for N more (params and metrics)."""
    full = harlax.train(TINY_REAL.replace(out=str(tmp_path / "full")))
    part = TINY_REAL.replace(out=str(tmp_path / "part"))
    harlax.train(part, stop_after=2)
    assert Checkpointer(part.out, read_only=True).latest() == 2
    resumed = harlax.resume(part.out)
    assert_trees_equal(full.params, resumed.params)
    assert_trees_equal(load_params(tmp_path / "full"), load_params(tmp_path / "part"))
    for name, values in resumed.metrics.items():
        np.testing.assert_array_equal(values, full.metrics[name][:, 2:], err_msg=name)
    csv_text = [(tmp_path / run / "metrics.csv").read_text() for run in ("full", "part")]
    assert csv_text[0] == csv_text[1]
    # The checkpoint holds the whole learner state, environment states and keys included.
    state = harlax.load(part.out).state
    assert np.asarray(state.update).tolist() == [4, 4]


def test_cli_resume_continues_a_run(tmp_path, monkeypatch, capsys):
    from harlax.cli import main

    use_fake_program(monkeypatch)
    out = tmp_path / "r"
    harlax.train(TINY_FAKE.replace(out=str(out)), stop_after=2)
    main(["train", "--resume", str(out)])
    assert Checkpointer(out, read_only=True).latest() == 6
    assert "run directory" in capsys.readouterr().out


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from harlax.checkpoint import Checkpointer
    ckpt = Checkpointer(sys.argv[1], keep=3)
    ckpt.save(1, {"w": np.full(4, 1.0)})
    ckpt.wait()
    big = {"w": np.full((64, 1024, 1024), 2.0, np.float32)}  # 256 MB: a slow save
    ckpt.save(2, big)
    print("saving", flush=True)
    time.sleep(60)
""")


def test_kill_during_save_leaves_previous_checkpoint(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC, JAX_PLATFORMS="cpu")
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "saving"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert any(n.startswith("2.") and "tmp" in n for n in names), names  # killed mid-save
    checkpointer = Checkpointer(tmp_path, read_only=True)
    assert checkpointer.latest() == 1
    restored = checkpointer.restore({"w": np.zeros(4)})
    np.testing.assert_array_equal(restored["w"], np.full(4, 1.0))


def test_guard_names_the_first_bad_update_and_quantity():
    metrics = {
        "episode_return_sum": np.zeros((2, 3)),
        "episodes": np.ones((2, 3), int),
        "actor_loss": np.zeros((2, 3, 2)),
    }
    finite = {"actor_params": np.array([True, True])}
    check_chunk(metrics, finite, first_update=6)  # all finite: no error
    metrics["actor_loss"][1, 2, 0] = np.inf
    with pytest.raises(NonFiniteError, match=r"update 9, seed 1: metric 'actor_loss'"):
        check_chunk(metrics, finite, first_update=6)
    finite["critic_params"] = np.array([False, True])
    with pytest.raises(NonFiniteError, match=r"update 9, seed 0: parameters 'critic_params'"):
        check_chunk(metrics, finite, first_update=6)


def test_guard_skips_updates_that_did_not_train():
    """Off-policy learners report NaN losses before learning starts, with `trained` false."""
    metrics = {"critic_loss": np.zeros((2, 3)), "trained": np.ones((2, 3), bool)}
    finite = {"critic_params": np.array([True, True])}
    metrics["critic_loss"][:, 0] = np.nan
    metrics["trained"][:, 0] = False
    check_chunk(metrics, finite, first_update=0)  # NaN only where nothing trained
    metrics["critic_loss"][0, 1] = np.nan
    with pytest.raises(NonFiniteError, match=r"update 2, seed 0: metric 'critic_loss'"):
        check_chunk(metrics, finite, first_update=0)


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    use_fake_program(monkeypatch, poison_at=3)
    config = TINY_FAKE.replace(checkpoint_every=1, out=str(tmp_path / "r"))
    with pytest.raises(NonFiniteError, match="update 3") as err:
        harlax.train(config)
    assert "actor_params" in str(err.value)
    loaded = harlax.load(config.out)
    assert loaded.update == 2
    assert np.isfinite(loaded.state.actor_params["w"]).all()
