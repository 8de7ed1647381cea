"""End-to-end: tiny training runs of the one compiled program, determinism, and the
run directory."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from opsutil import tiny_config

import harlax
from harlax.logging import load_params

TINY = tiny_config(total_steps=128, num_envs=8, num_epochs=2)


E2E_CASES = [
    ("ippo", "MPE_simple_spread_v3", {}, False),
    ("mappo", "MPE_simple_spread_v3", {"action_type": "Continuous"}, False),
    ("ippo", "MPE_simple_spread_v3", {"action_type": "Continuous"}, True),
    ("mappo", "MPE_simple_speaker_listener_v4", {}, True),
    ("ippo", "MPE_simple_speaker_listener_v4", {}, False),
    ("mappo", "SMAX", {"map_name": "3m"}, False),
    ("ippo", "SMAX", {"map_name": "3m"}, True),
]


@pytest.mark.slow
@pytest.mark.parametrize("algo, env, env_kwargs, recurrent", E2E_CASES)
def test_tiny_end_to_end_run(algo, env, env_kwargs, recurrent):
    config = TINY.replace(algo=algo, env=env, env_kwargs=env_kwargs, recurrent=recurrent)
    result = harlax.train(config, write=False)
    num_agents = harlax.make_env(env, **env_kwargs).spec.num_agents
    m = result.metrics
    assert np.isfinite(m["critic_loss"]).all() and np.isfinite(m["actor_loss"]).all()
    assert np.isfinite(m["actor_entropy"]).all()
    assert m["critic_loss"].shape == (1, 2)
    assert m["actor_loss"].shape == (1, 2, num_agents)
    assert result.run_dir is None
    assert list(result.seconds) == ["setup", "compile", "train"]
    assert all(s > 0 for s in result.seconds.values())


@pytest.mark.slow
def test_agent_ids_off_trains_nets_on_the_observation_and_state_alone():
    """agent_ids=False (JaxMARL's IPPO and MAPPO nets): the shared actor's first layer is
    the observation's width and the critic's the state's, with no one-hot id."""
    config = TINY.replace(algo="mappo", agent_ids=False)
    result = harlax.train(config, write=False)
    spec = harlax.make_env(config.env).spec
    widths = {
        name: result.params[name]["params"]["Torso_0"]["Dense_0"]["kernel"].shape[-2]
        for name in ("actor", "critic")
    }
    assert widths == {"actor": spec.obs_dim, "critic": spec.state_dim}
    assert np.isfinite(result.metrics["critic_loss"]).all()
    assert np.isfinite(result.metrics["actor_loss"]).all()


@pytest.mark.slow
def test_same_seed_same_numbers_different_seed_different_numbers():
    config = TINY.replace(num_seeds=2, total_steps=192)
    first = harlax.train(config, write=False)
    again = harlax.train(config, write=False)
    for name, values in first.metrics.items():
        np.testing.assert_array_equal(values, again.metrics[name], err_msg=name)
    loss = first.metrics["actor_loss"]
    assert not np.allclose(loss[0], loss[1])  # the two seeds of one run differ
    shifted = harlax.train(config.replace(seed=1, num_seeds=1), write=False)
    # Seed i of a run is seed `config.seed + i`, whatever num_seeds is.
    np.testing.assert_allclose(shifted.metrics["actor_loss"][0], loss[1], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_run_directory_holds_config_metrics_and_params(tmp_path):
    out = tmp_path / "run"
    config = TINY.replace(num_seeds=2, out=str(out))
    result = harlax.train(config)
    assert result.run_dir == out
    assert harlax.Config.from_json((out / "config.json").read_text()) == config
    with (out / "metrics.csv").open() as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
    header, body = rows[0], rows[1:]
    assert header[:4] == ["seed", "update", "env_steps", "episode_return"]
    assert len(body) == 2 * 2  # one row per logged update and seed
    assert {r[0] for r in body} == {"0", "1"}
    assert [int(r[2]) for r in body if r[0] == "0"] == [64, 128]
    params = load_params(out)
    actor_leaves = [np.asarray(x) for x in _leaves(params["actor"])]
    assert all(leaf.shape[0] == 2 for leaf in actor_leaves)  # leading seed axis
    json.loads((out / "config.json").read_text())
    with pytest.raises(ValueError, match="already holds files"):
        harlax.train(config)  # never overwrite a run


def _leaves(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _leaves(value)
    else:
        yield tree


@pytest.mark.slow
def test_tiny_smax_run_with_active_masks_logs_a_win_rate(tmp_path):
    """SMAX 3m with active masks (on by default) and 10-step episodes: finite losses, and
    a win_rate column in [0, 1] for the updates in which episodes ended."""
    config = TINY.replace(
        env="SMAX",
        env_kwargs={"map_name": "3m", "max_steps": 10},
        num_envs=2,
        rollout_length=16,
        total_steps=64,
        num_epochs=1,
        hidden_dim=8,
        out=str(tmp_path / "run"),
    )
    assert config.use_policy_active_masks and config.use_value_active_masks
    result = harlax.train(config)
    m = result.metrics
    for name in ("critic_loss", "actor_loss", "actor_entropy", "actor_kl"):
        assert np.isfinite(m[name]).all(), name
    assert (m["episodes"] > 0).all() and (m["episodes_won"] <= m["episodes"]).all()
    with (tmp_path / "run/metrics.csv").open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    rates = [float(r["win_rate"]) for r in rows]
    np.testing.assert_allclose(rates, (m["episodes_won"] / m["episodes"])[0], rtol=1e-5)
    assert all(0.0 <= r <= 1.0 for r in rates)
