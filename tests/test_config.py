"""Config.validate(): every class of invalid value raises a ValueError naming the field
and a fix, before anything is compiled; presets and JSON round-trips."""

from __future__ import annotations

import importlib.util

import pytest

import harlax
from harlax.config import Config
from harlax.validation import derive

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
        (dict(kl_threshold=0.02), "kl_threshold", "trust_region"),
        (dict(algo="hatrpo", clip_eps=0.1), "clip_eps", "step='clip'"),
        (dict(algo="mappo", fixed_order=True), "fixed_order", "sequential"),
        (dict(buffer_size=4096), "buffer_size", "maddpg"),
        (dict(algo="maddpg", num_epochs=5), "num_epochs", "on-policy"),
        (dict(algo="maddpg", value_loss="huber"), "value_loss", "on-policy"),
        (dict(ob_samples=50), "ob_samples", "central_q"),
        (dict(scheme="sequental"), "scheme", "sequential"),
        (dict(num_minibatches=3), "num_minibatches", "divisor"),
        (dict(recurrent=True, num_minibatches=3), "num_minibatches", "num_envs"),
        (dict(critic="global_q"), "critic", "central_v"),
        (dict(scheme="parallel"), "scheme", "sequential"),
        (dict(step="adam"), "step", "trust_region"),
        (dict(activation="gelu"), "activation", "tanh"),
        (dict(algo="happo", share_params=True), "share_params", "share_params=False"),
        (dict(agent_ids="no"), "agent_ids", "True or False"),
        (
            dict(algo="mappo", baseline="ob", critic="central_q", agent_ids=False),
            "agent_ids",
            "V critic",
        ),
        (dict(algo="happo", team_critic="sum", agent_ids=False), "agent_ids", "share_params=True"),
        (dict(algo="maddpg", agent_ids=False), "agent_ids", "on-policy"),
    ],
)
def test_invalid_values_are_refused_with_field_and_fix(changes, field, hint):
    with pytest.raises(ValueError) as err:
        VALID.replace(**changes).validate()
    message = str(err.value)
    assert field in message and "Fix" in message and hint in message


def test_a_field_the_algorithm_ignores_may_keep_its_default():
    """Only a field set away from its default is refused: presets and defaults pass."""
    VALID.replace(algo="hatrpo").validate()
    VALID.replace(algo="maddpg", learning_starts=1024).validate()
    for preset in harlax.presets.values():
        derive(preset)  # every named configuration's fields are consistent (no env needed)


@pytest.mark.parametrize(
    "total_steps, per_chunk, lengths",
    [(128 * 32, 4, (4,) * 8), (128 * 6, 4, (4, 2)), (128 * 4, 8, (4,))],
)
def test_updates_need_not_divide_into_chunks(total_steps, per_chunk, lengths):
    """A shorter last chunk instead of a refusal; the default chunk fits any short run."""
    derived = VALID.replace(total_steps=total_steps, updates_per_chunk=per_chunk).validate()
    assert derived.chunk_lengths == lengths
    assert sum(derived.chunk_lengths) == derived.num_updates == total_steps // 128


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
