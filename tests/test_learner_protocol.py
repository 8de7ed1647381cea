"""Every learner family implements `harlax.learner.Learner`, so evaluation (periodic, final,
and of a run directory) works for every family: on-policy, MADDPG discrete and
continuous, and MADDPG policy ensembles."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from opsutil import tiny_fields

import harlax
from harlax.evaluate import FINAL_EVAL
from harlax.train import make_train, seed_keys

# Four updates, evaluated after updates 2 and 4, two seeds.
EVAL = dict(updates_per_chunk=2, eval_every=2, eval_episodes=2, final_eval_episodes=3, num_seeds=2)
MADDPG = tiny_fields(
    onpolicy=False,
    algo="maddpg",
    num_envs=2,
    rollout_length=4,
    total_steps=32,
    hidden_dim=8,
    buffer_size=64,
    batch_size=8,
    learning_starts=8,
    **EVAL,
)
FAMILIES = {
    "onpolicy": tiny_fields(
        env="matrix:climbing", rollout_length=2, total_steps=32, num_minibatches=1, **EVAL
    ),
    "maddpg_discrete": MADDPG,
    "maddpg_continuous": {**MADDPG, "env_kwargs": {"action_type": "Continuous"}},
    "maddpg_ensemble": {**MADDPG, "ensemble_size": 2},
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_evaluation_works_for_every_family(family, tmp_path):
    config = harlax.Config(**FAMILIES[family], out=str(tmp_path / "run"))
    result = harlax.train(config)
    summary = result.evaluation
    assert summary["returns"].shape == (2, 2)  # seeds x evaluations (after updates 2, 4)
    assert summary["absolute_best"].shape == (2, 3)
    assert np.isfinite(summary["absolute_last"]).all()
    assert set(result.params) >= {"actor", "critic"}
    # The run directory's last checkpoint, on the final evaluation's episodes.
    again = harlax.evaluate(config.out, episodes=3, update=FINAL_EVAL)
    np.testing.assert_allclose(again, summary["absolute_last"], rtol=1e-5)


def test_maddpg_ensemble_evaluation_plays_each_sub_policy_evenly():
    """Environment e of an evaluation batch plays sub-policy e mod K of every agent: the
    greedy action of a batch equals, per environment, that sub-policy's own action."""
    config = harlax.Config(**{**MADDPG, "ensemble_size": 3, "eval_every": 0})
    program = make_train(config)
    learner = program.learner
    state = program.init(seed_keys(config)[0])
    env_state = jax.vmap(program.env.reset)(jax.random.split(jax.random.PRNGKey(1), 6))
    obs = env_state.observation
    hidden = learner.initial_policy_hidden(6)
    first = jnp.ones(6, bool)
    _, action = learner.greedy_action(learner.policy_params(state), hidden, obs, first)
    raw = learner.actor_out(state.actor_params, obs.obs)  # [N, A, K, U]
    for e in range(6):
        own = jnp.argmax(jnp.where(obs.avail[e], raw[e, :, e % 3], -jnp.inf), axis=-1)
        np.testing.assert_array_equal(action[e], own)
