"""Config.validate(): every class of invalid value raises a ValueError naming the field
and a fix, before anything is compiled; presets and JSON round-trips."""

from __future__ import annotations

import importlib.util

import pytest

import harlax
from harlax.config import Config

VALID = Config(total_steps=8192, num_envs=8, rollout_length=16, updates_per_chunk=4)


@pytest.mark.parametrize(
    "changes, field, hint",
    [
        (dict(algo="mapo"), "algo", "mappo"),
        (dict(env="MPE_simple_sprad_v3"), "env", "MPE_simple_spread_v3"),
        (dict(env="SMAX", env_kwargs={"map_name": "99z"}), "map_name", "3m"),
        (dict(lr=-1e-3), "lr", "> 0"),
        (dict(critic_lr=0.0), "critic_lr", "> 0"),
        (dict(gamma=1.5), "gamma", "[0, 1]"),
        (dict(clip_eps=0.0), "clip_eps", "(0, 1)"),
        (dict(ent_coef=-0.1), "ent_coef", ">= 0"),
        (dict(num_envs=0), "num_envs", ">= 1"),
        (dict(num_seeds=2.5), "num_seeds", "integer"),
        (dict(total_steps=8000), "total_steps", "8064"),
        (dict(total_steps=128 * 6), "updates_per_chunk", "divisor"),
        (dict(num_minibatches=3), "num_minibatches", "divisor"),
        (dict(recurrent=True, num_minibatches=3), "num_minibatches", "num_envs"),
        (dict(critic="global_q"), "critic", "central_v"),
        (dict(scheme="parallel"), "scheme", "sequential"),
        (dict(step="adam"), "step", "trust_region"),
        (dict(activation="gelu"), "activation", "tanh"),
        (dict(algo="happo", share_params=True), "share_params", "share_params=False"),
    ],
)
def test_invalid_values_are_refused_with_field_and_fix(changes, field, hint):
    with pytest.raises(ValueError) as err:
        VALID.replace(**changes).validate()
    message = str(err.value)
    assert field in message and "Fix" in message and hint in message


def test_invalid_config_fails_before_compiling(monkeypatch):
    """make_train/train validate first: no environment is built, nothing is compiled."""
    import sys

    train_module = sys.modules["harlax.train"]  # `harlax.train` the attribute is the function

    def forbidden(*args, **kwargs):
        raise AssertionError("an environment was built before validation")

    monkeypatch.setattr(train_module, "make_env", forbidden)
    with pytest.raises(ValueError, match="total_steps"):
        harlax.train(VALID.replace(total_steps=1000), write=False)


def test_budget_is_not_rounded():
    derived = VALID.validate()
    assert derived.num_updates * derived.steps_per_update == VALID.total_steps


def test_presets_validate_and_round_trip_through_json():
    assert {"ippo", "mappo", "happo", "hatrpo"} <= set(harlax.presets)
    have_mujoco = importlib.util.find_spec("mujoco") is not None
    for name, preset in harlax.presets.items():
        if preset.env.startswith("mamujoco:") and not have_mujoco:
            with pytest.raises(ValueError, match=r"harlax\[mujoco\]"):
                preset.validate()
        else:
            preset.validate()
        assert Config.from_json(preset.to_json()) == preset, name


def test_unknown_field_in_json_is_named():
    with pytest.raises(ValueError, match="learning_rate"):
        Config.from_dict({"learning_rate": 1.0})


def test_algo_points_resolve_to_learner_choices():
    ippo = VALID.replace(algo="ippo").validate()
    mappo = VALID.replace(algo="mappo").validate()
    happo = VALID.replace(algo="happo").validate()
    assert (ippo.critic, mappo.critic) == ("local_v", "central_v")
    assert (happo.scheme, happo.share_params) == ("sequential", False)
    overridden = VALID.replace(algo="mappo", share_params=False, step="trust_region").validate()
    assert (overridden.share_params, overridden.step) == (False, "trust_region")
