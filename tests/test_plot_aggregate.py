"""Learning curves with 95% bands and IQM aggregates, against plain references (no JAX)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import harlax
from harlax.aggregate import aggregate, iqm, scores_from_runs, stratified_bootstrap
from harlax.cli import main
from harlax.plot import learning_curves, mean_band, plot

# t quantile 0.975 with 2 degrees of freedom (tables): for 3 curves.
T_975_DF2 = 4.302652729911275


def _fake_run(path: Path, algo: str, returns: dict[int, list[float]], absolute=None) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(harlax.Config(algo=algo).to_json())
    lines = ["# a comment line\n", "seed,update,env_steps,episode_return,critic_loss\n"]
    for seed, values in returns.items():
        for u, v in enumerate(values, start=1):
            lines.append(f"{seed},{u},{u * 64},{'' if np.isnan(v) else v},0.5\n")
    (path / "metrics.csv").write_text("".join(lines))
    if absolute is not None:
        runs = {f"seed_{s}": {"absolute_metrics": {"return": list(v)}} for s, v in absolute.items()}
        (path / "evaluation.json").write_text(json.dumps({"MPE": {"spread": {algo: runs}}}))
    return path


def test_mean_band_matches_a_hand_computed_t_interval():
    values = np.array([[1.0, 2.0, np.nan], [3.0, 2.0, 5.0], [5.0, 2.0, np.nan]])
    mean, low, high, n = mean_band(values)
    np.testing.assert_allclose(mean, [3.0, 2.0, 5.0])
    np.testing.assert_array_equal(n, [3, 3, 1])
    half = T_975_DF2 * 2.0 / np.sqrt(3)  # sample std of (1, 3, 5) is 2
    np.testing.assert_allclose([low[0], high[0]], [3.0 - half, 3.0 + half])
    assert low[1] == high[1] == 2.0 and low[2] == high[2] == 5.0  # no spread / one curve


def test_learning_curves_group_runs_by_algorithm_and_plot(tmp_path):
    a = _fake_run(tmp_path / "a", "mappo", {0: [1.0, 2.0, 3.0], 1: [3.0, 4.0, 5.0]})
    b = _fake_run(tmp_path / "b", "mappo", {0: [5.0, 6.0, np.nan]})
    c = _fake_run(tmp_path / "c", "happo", {0: [0.0, 0.0, 0.0]})
    curves = {curve.label: curve for curve in learning_curves([a, b, c])}
    assert sorted(curves) == ["happo", "mappo"]
    np.testing.assert_array_equal(curves["mappo"].steps, [64, 128, 192])
    np.testing.assert_allclose(curves["mappo"].mean, [3.0, 4.0, 4.0])
    np.testing.assert_array_equal(curves["mappo"].n, [3, 3, 2])
    out = plot([a, b, c], tmp_path / "curves.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
    main(["plot", str(a), str(c), "-o", str(tmp_path / "cli.png"), "--metric", "critic_loss"])
    assert (tmp_path / "cli.png").exists()


def test_iqm_and_stratified_bootstrap_against_brute_force():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(8, 3))
    flat = np.sort(scores.ravel())  # 24 values: the IQM averages the middle 12
    assert iqm(scores) == pytest.approx(flat[6:18].mean())
    low, high = stratified_bootstrap(scores, reps=300, seed=1)
    # Reference: the same resampling with an explicit loop over repetitions and tasks.
    rng_ref = np.random.default_rng(1)
    idx = rng_ref.integers(0, 8, size=(300, 8, 3))
    values = []
    for r in range(300):
        sample = np.stack([scores[idx[r, :, t], t] for t in range(3)], axis=1)
        values.append(np.sort(sample.ravel())[6:18].mean())
    np.testing.assert_allclose([low, high], np.percentile(values, [2.5, 97.5]))
    assert low < iqm(scores) < high


def test_aggregate_reads_absolute_metrics_of_runs(tmp_path):
    a = _fake_run(tmp_path / "a", "mappo", {0: [1.0]}, absolute={0: [1.0, 3.0], 1: [4.0]})
    b = _fake_run(tmp_path / "b", "ippo", {0: [1.0]}, absolute={0: [0.0], 1: [2.0]})
    scores = scores_from_runs([a, b])
    np.testing.assert_array_equal(scores["mappo"], [[2.0], [4.0]])  # [runs, tasks]
    table = aggregate(scores, reps=200, use_rliable=False)
    assert table["mappo"]["iqm"] == pytest.approx(3.0)
    assert table["ippo"]["low"] <= table["ippo"]["iqm"] <= table["ippo"]["high"]
    assert harlax.aggregate(scores, reps=50)["mappo"]["mean"] == pytest.approx(3.0)


def test_rliable_agrees_when_installed():
    pytest.importorskip("rliable", reason="needs the 'stats' extra: pip install 'harlax[stats]'")
    scores = np.random.default_rng(2).normal(size=(10, 2))
    with_rliable = aggregate({"x": scores}, reps=2000)["x"]
    numpy_only = aggregate({"x": scores}, reps=2000, use_rliable=False)["x"]
    assert with_rliable["iqm"] == pytest.approx(numpy_only["iqm"])
    for bound in ("low", "high"):  # two bootstrap samples of the same interval
        assert with_rliable[bound] == pytest.approx(numpy_only[bound], abs=0.15)
