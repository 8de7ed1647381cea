"""The fused update (a shared actor and the critic trained side by side on the same
minibatches, `OnPolicyLearner.update_together`) equals the unfused one: the actor's and
the critic's own minibatch epochs, given the same key."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from opsutil import tiny_config

from harlax.train import make_train, seed_keys


@pytest.mark.parametrize("algo", ["ippo", "mappo"])
def test_fused_update_equals_separate_actor_and_critic_updates(algo):
    config = tiny_config(algo=algo, env="MPE_simple_spread_v3", num_epochs=2, num_minibatches=2)
    program = make_train(config)
    learner = program.learner
    assert learner.fused  # a shared actor under the simultaneous clip step
    state = program.init(seed_keys(config)[0])
    keys = jax.random.split(jax.random.PRNGKey(7), 3)
    batches = learner.collect(state, keys[0], keys[1])

    actor, actor_opt, actor_m, critic, critic_opt, critic_m = jax.jit(learner.update_together)(
        state, batches.policy, batches.critic, keys[2]
    )
    actor_alone = jax.jit(learner.update_actor)(
        state.actor_params, state.actor_opt_state, batches.policy, keys[2]
    )
    critic_alone = jax.jit(learner.update_critic)(
        state.critic_params, state.critic_opt_state, batches.critic, keys[2]
    )
    for fused, alone in [(actor, actor_alone[0]), (critic, critic_alone[0])]:
        for x, y in zip(jax.tree.leaves(fused), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    for name in ("loss", "entropy", "clip_frac"):
        np.testing.assert_allclose(actor_m[name], actor_alone[2][name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(critic_m["critic_loss"], critic_alone[2]["critic_loss"], rtol=1e-5)
