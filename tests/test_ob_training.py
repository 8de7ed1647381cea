"""Config choices of the Q-critic baselines, and tiny end-to-end runs of MAPPO+OB and
HAPPO+OB on discrete and continuous MPE spread."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from opsutil import tiny_fields

import harlax
from harlax.named_configs import presets

TINY = tiny_fields(
    env="MPE_simple_spread_v3", total_steps=32, hidden_dim=8, ob_samples=4, grad_variance_splits=2
)


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(algo="mappo", baseline="ob"), "critic"),
        (dict(algo="happo", baseline="coma"), "critic"),
        (dict(algo="mappo", critic="local_v", baseline="none"), "critic"),
        (dict(algo="mappo_ob", baseline="gae"), "baseline"),
        (dict(algo="mappo", critic="central_q"), "baseline"),
        (dict(algo="mappo_ob", recurrent=True), "recurrent"),
        (dict(algo="mappo_ob", ob_samples=0), "ob_samples"),
        (dict(algo="mappo_ob", grad_variance_splits=1), "grad_variance_splits"),
        (dict(algo="mappo_ob", grad_variance_splits=7), "grad_variance_splits"),
    ],
)
def test_invalid_pairings_are_refused(changes, field):
    with pytest.raises(ValueError, match=rf"Config\.{field}:.*Fix: "):
        harlax.Config(**changes).validate()


@pytest.mark.parametrize("name", ["mappo_ob", "happo_ob", "hatrpo_ob", "coma"])
def test_presets_are_points_with_the_q_critic(name):
    derived = presets[name].validate()
    assert derived.critic == "central_q"
    assert derived.baseline == ("coma" if name == "coma" else "ob")
    assert derived.scheme == ("sequential" if name.startswith("ha") else "simultaneous")


@pytest.mark.slow
@pytest.mark.parametrize(
    "algo, env_kwargs",
    [("mappo_ob", {}), ("happo_ob", {"action_type": "Continuous"})],
    ids=["mappo_ob-discrete", "happo_ob-continuous"],
)
def test_tiny_training_run(algo, env_kwargs):
    # The gradient-variance metric is compiled in one of the two runs only (test time).
    splits = 0 if env_kwargs else 2
    config = harlax.Config(algo=algo, env_kwargs=env_kwargs, **TINY).replace(
        grad_variance_splits=splits
    )
    result = harlax.train(config, write=False)
    metrics = result.metrics
    assert metrics["critic_loss"].shape == (1, 1)
    for name in ("critic_loss", "actor_loss", "advantage_mean", "actor_kl"):
        assert np.all(np.isfinite(metrics[name])), name
    if splits:
        assert np.all(np.isfinite(metrics["pg_grad_var"])) and np.all(metrics["pg_grad_var"] > 0)
    else:
        assert "pg_grad_var" not in metrics
    assert np.all(metrics["actor_kl"] > 0)  # the policies moved
    leaves = jax.tree.leaves(result.params["critic"])
    assert all(np.all(np.isfinite(x)) for x in leaves)
