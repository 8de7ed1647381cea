"""Hyperparameter vectorisation: the vmapped sweep equals separate runs."""

from __future__ import annotations

import numpy as np
import pytest
from opsutil import TINY_REAL

import harlax
from harlax.sweep import make_sweep, sweep


def test_sweep_refuses_fields_and_values_before_building(monkeypatch):
    import sys

    def forbidden(*args, **kwargs):
        raise AssertionError("a program was built before validation")

    monkeypatch.setattr(sys.modules["harlax.train"], "make_env", forbidden)
    with pytest.raises(ValueError, match="num_envs.*cannot be vectorised.*Fix"):
        make_sweep(TINY_REAL, "num_envs", [8, 16])
    with pytest.raises(ValueError, match="Config.lr: must be positive"):
        make_sweep(TINY_REAL, "lr", [1e-3, -1.0])


@pytest.mark.slow
def test_vmapped_learning_rates_equal_separate_runs():
    values = [TINY_REAL.lr, 5e-3]
    result = sweep(TINY_REAL, "lr", values)
    assert result.metrics["actor_loss"].shape[:3] == (2, 2, 4)  # [values, seeds, updates]
    for i, value in enumerate(values):
        alone = harlax.train(TINY_REAL.replace(lr=value), write=False)
        for name, expected in alone.metrics.items():
            np.testing.assert_allclose(
                result.metrics[name][i],
                expected,
                rtol=1e-4,
                atol=1e-5,
                err_msg=f"{name} at lr={value}",
            )
        np.testing.assert_allclose(
            result.params["actor"]["params"]["Dense_0"]["kernel"][i],
            alone.params["actor"]["params"]["Dense_0"]["kernel"],
            rtol=1e-4,
            atol=1e-6,
        )
    # The two learning rates really train differently.
    assert not np.allclose(result.metrics["actor_loss"][0], result.metrics["actor_loss"][1])
    assert result.final_returns().shape == (2, 2)


def test_grid_writes_one_run_per_point_and_an_aggregate(tmp_path, monkeypatch):
    import csv

    import yaml
    from opsutil import TINY_FAKE, use_fake_program

    from harlax.cli import main

    use_fake_program(monkeypatch)
    base = {
        k: getattr(TINY_FAKE, k)
        for k in (
            "total_steps",
            "num_envs",
            "rollout_length",
            "updates_per_chunk",
            "num_minibatches",
            "num_seeds",
            "progress",
        )
    }
    spec = {
        "base": base,
        "algos": ["mappo", "ippo"],
        "envs": ["MPE_simple_spread_v3", {"env": "SMAX", "env_kwargs": {"map_name": "3m"}}],
        "grid": {"ent_coef": [0.0, 0.02]},
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    main(["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out")])
    runs = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert len(runs) == 8 and "ippo_ent_coef=0.02_SMAX-3m" in runs
    config = harlax.Config.from_json(
        (tmp_path / "out/ippo_ent_coef=0.02_SMAX-3m/config.json").read_text()
    )
    assert (config.algo, config.env, config.env_kwargs, config.ent_coef) == (
        "ippo",
        "SMAX",
        {"map_name": "3m"},
        0.02,
    )
    with (tmp_path / "out/aggregate.csv").open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert sorted(r["label"] for r in rows) == [
        "ippo_ent_coef=0.0",
        "ippo_ent_coef=0.02",
        "mappo_ent_coef=0.0",
        "mappo_ent_coef=0.02",
    ]
    assert {(r["runs"], r["tasks"]) for r in rows} == {("2", "2")}  # seeds x environments
    assert (tmp_path / "out/curves.png").exists()
    with pytest.raises(SystemExit, match="Config.lr"):
        bad = dict(spec, grid={"lr": [-1.0]})
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
        main(["sweep", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()  # refused before the first run
