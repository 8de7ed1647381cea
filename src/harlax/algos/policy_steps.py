"""The on-policy learner's policy steps, one per `Config.step`: PPO clip epochs and one
trust-region (natural-gradient) step under a KL bound. Each is a function of the learner
(`OnPolicyLearner`: its policy outputs, head, actor optimiser and config):

    step(learner, params, opt_state, batch, agent_index, key, old_out)
        -> (params, opt_state, metrics, new_out)

on one parameter set's batch (leaves `[K, T, N, ...]`; `old_out` the policy's outputs
before the step; `new_out` the outputs after it where the step has them, else None).
Every mean is over the active samples (`returns.masked_mean`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from harlax.algos.batches import PolicyBatch
from harlax.algos.minibatch import minibatch_epochs
from harlax.losses import clipped, clipped_surrogate, sample_kl
from harlax.returns import masked_mean
from harlax.trust_region import trust_region_step
from harlax.types import Array, PyTree


def clip_loss(learner, params: PyTree, agent_index: Array, batch: PolicyBatch):
    """PPO's loss on a minibatch: `-(clipped surrogate) - ent_coef * entropy`, with the
    entropy, the clip fraction and the sample KL estimate as metrics."""
    c = learner.config
    out = learner.policy_out(params, agent_index, batch)
    log_ratio = learner.head.log_prob(out, batch.avail, batch.action) - batch.old_log_prob
    surrogate = clipped_surrogate(log_ratio, batch.advantage, c.clip_eps)
    mean = lambda x: masked_mean(x, batch.active)
    entropy = mean(learner.head.entropy(out, batch.avail))
    loss = -mean(surrogate) - c.ent_coef * entropy
    return loss, {
        "entropy": entropy,
        "clip_frac": mean(clipped(log_ratio, c.clip_eps)),
        "approx_kl": jax.lax.stop_gradient(mean(sample_kl(log_ratio))),
    }


def clip_step(learner, params, opt_state, batch: PolicyBatch, agent_index, key, old_out):
    """`num_epochs` passes of `num_minibatches` Adam steps on `clip_loss`."""
    c = learner.config
    loss = lambda p, mb: clip_loss(learner, p, agent_index, mb)
    params, opt_state, metrics = minibatch_epochs(
        key, params, opt_state, batch, loss, learner.actor_tx, c.num_epochs, c.num_minibatches
    )
    return params, opt_state, metrics, None


def trust_region_policy_step(
    learner, params, opt_state, batch: PolicyBatch, agent_index, key, old_out
):
    """One natural-gradient step on the importance-weighted surrogate under the bound
    `kl_threshold` on the mean KL(old || new) (`harlax.trust_region`); no optimiser."""
    c = learner.config
    mean = lambda x: masked_mean(x, batch.active)

    def surrogate_of(out):
        log_prob = learner.head.log_prob(out, batch.avail, batch.action)
        return mean(jnp.exp(log_prob - batch.old_log_prob) * batch.advantage)

    params, info, new_out = trust_region_step(
        params,
        lambda p: learner.policy_out(p, agent_index, batch),
        surrogate_of,
        lambda out: mean(learner.head.kl(old_out, out, batch.avail)),
        c.kl_threshold,
        c.cg_iters,
        c.cg_damping,
        c.line_search_steps,
        c.accept_ratio,
        c.backtrack_coef,
    )
    metrics = {
        "step_fraction": info.fraction,
        "step_accepted": info.accepted,
        "improvement": info.improvement,
    }
    return params, opt_state, metrics, new_out


POLICY_STEPS = {"clip": clip_step, "trust_region": trust_region_policy_step}  # by Config.step
