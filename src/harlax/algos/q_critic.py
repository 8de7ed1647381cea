"""The centralised Q critic on the learner side: rollout values and the actor's signal.

Training choice. The Q critic is trained like the V critic, on TD(lambda) targets: the
rollout records `Q(s_t, a_t)` of the taken joint action (and, where an episode is
truncated or the rollout ends, Q of a joint action sampled from the policy, a SARSA
estimate of the state value), and `returns.compute_gae` turns these into lambda-returns
`G_t = r_t + gamma ((1 - lambda) Q(s_{t+1}, a_{t+1}) + lambda G_{t+1})`. The targets use
the critic of the rollout, frozen for the whole update, so they already play the part of
a target network; value normalisation (the V critic's running statistics) keeps the
regression well scaled across tasks. The critic is feed-forward.

The actor's signal is `X^i = Qhat(s, a) - b(s, a^{-i})` in raw reward scale, with the
baseline from `harlax.baselines` (OB, COMA, or none): discrete heads give every own
action in one pass; Gaussian policies sample K own actions per state and agent. `Qhat`,
the estimate of the taken joint action's value, is one of (`Config.q_signal`)

- `"return"`: the lambda-return `G_t` the critic is trained on (raw scale, truncation
  bootstrapped from the true final observation). This is the OB paper's own code
  ("MAPPO with OB": `r_t + gamma G_{t+1} - b`, a Monte Carlo return, i.e. lambda = 1):
  the rewards carry the signal and the critic only supplies the baseline.
- `"critic"`: the critic's own estimate `Q_phi(s_t, a_t)` (COMA's actor-critic signal).
  It carries no reward information beyond what the critic has learnt.

Either way the baseline does not depend on agent i's own action, so the estimator stays
unbiased for the gradient of the expected `Qhat`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from harlax import returns
from harlax.baselines import discrete_baseline, gaussian_baseline
from harlax.distributions import MASKED_LOGIT
from harlax.layout import agent_major, batch_major
from harlax.nets import AgentNet, apply_q, q_input
from harlax.types import (
    Array,
    LearnerState,
    Observation,
    PyTree,
    Transition,
    ValueNormState,
)


class QCritic:
    """Pure functions around a Q-critic `AgentNet` (see `nets.make_q_critic`)."""

    def __init__(
        self,
        actor: AgentNet,
        critic: AgentNet,
        head,
        action_dim: int,
        baseline: str,
        num_samples: int,
        value_norm: bool,
        q_signal: str = "return",
    ):
        self.actor, self.critic, self.head = actor, critic, head
        self.action_dim, self.baseline, self.q_signal = action_dim, baseline, q_signal
        self.num_samples, self.value_norm = num_samples, value_norm
        self.discrete = head.discrete

    def inputs(self, state: Array, action: Array) -> Array:
        """Critic input `[..., A, D]` from `state [..., S]` and the joint action."""
        return q_input(state, action, self.action_dim, self.discrete)

    def taken(self, q: Array, action: Array) -> Array:
        """Q of the taken action `[..., A]` from the critic output (heads or `Q(s, a)`)."""
        if not self.discrete:
            return q
        return jnp.take_along_axis(q, action[..., None], axis=-1)[..., 0]

    def policy_out(self, actor_params: PyTree, obs: Array) -> Array:
        """Feed-forward actor outputs `[..., A, K]` for `obs [..., A, O]` (any lead axes)."""
        lead, a = obs.shape[:-2], obs.shape[-2]
        flat = obs.reshape((-1, a, obs.shape[-1]))
        n = flat.shape[0]
        _, out = self.actor.apply_all(
            actor_params,
            jnp.zeros((a, n, 0), obs.dtype),
            agent_major(flat),
            jnp.zeros((1, n), bool),
        )
        out = batch_major(out)
        return out.reshape(lead + out.shape[1:])

    def value(
        self,
        actor_params: PyTree,
        critic_params: PyTree,
        observation: Observation,
        action: Array | None,
        key: Array | None,
    ) -> Array:
        """`[B, A]` Q of `action`, or of a joint action sampled from the policy if None."""
        if action is None:
            out = self.policy_out(actor_params, observation.obs)
            action = self.head.sample(key, out, observation.avail)
        q = apply_q(self.critic, critic_params, self.inputs(observation.state, action))
        return self.taken(q, action)

    def baseline_values(
        self, actor_params: PyTree, critic_params: PyTree, tr: Transition, key: Array
    ) -> tuple[Array, Array | None]:
        """`[T, B, A]` baseline `b(s, a^{-i})` in the critic's (normalised) scale, and for
        Gaussian policies the effective sample size `[T, B, A]` of its weights (else None)."""
        out = self.policy_out(actor_params, tr.obs.obs)
        if self.discrete:
            q = apply_q(self.critic, critic_params, self.inputs(tr.obs.state, tr.action))
            probs = jax.nn.softmax(jnp.where(tr.obs.avail, out, MASKED_LOGIT), axis=-1)
            return discrete_baseline(self.baseline, probs, q), None
        mean, log_std = jnp.split(out, 2, axis=-1)
        a = mean.shape[-2]
        own = jnp.eye(a, dtype=bool)[:, :, None]  # [A (agent i), A (agent j), 1]

        def one_step(step):
            state, action, mean, std, mask, step_key = step  # [B, ...]

            def q_fn(samples: Array) -> Array:  # [K, B, A, U] -> [K, B, A]
                joint = jnp.where(own, samples[..., :, None, :], action[:, None])
                joint = joint.reshape(joint.shape[:-2] + (-1,))
                s = jnp.broadcast_to(state[:, None], joint.shape[:-1] + state.shape[-1:])
                return apply_q(self.critic, critic_params, jnp.concatenate([s, joint], -1))

            return tuple(
                gaussian_baseline(self.baseline, step_key, mean, std, mask, q_fn, self.num_samples)
            )

        # One time step at a time keeps the K-sample batch [K, B, A, D] small.
        keys = jax.random.split(key, mean.shape[0])
        return jax.lax.map(
            one_step, (tr.obs.state, tr.action, mean, jnp.exp(log_std), tr.obs.avail, keys)
        )

    @property
    def rollout_value(self):
        """The rollout's value of each step (`QCritic.value`: Q of the taken joint action)."""
        return self.value

    def batch_inputs(self, tr: Transition) -> tuple[Array, Array | None]:
        """The critic's training input `[T, B, A, D]` (state and joint action) and, for the
        discrete critic, the own action whose head is trained `[T, B, A]`."""
        return self.inputs(tr.obs.state, tr.action), tr.action if self.discrete else None

    def actor_signal(
        self, state: LearnerState, tr: Transition, key: Array, advantage: Array, target: Array
    ) -> tuple[Array, dict]:
        """`(signal [T, B, A], metrics)` of the critic interface: `signal` with the
        lambda-return `target` (the GAE `advantage` of Q is not used)."""
        return self.signal(
            state.actor_params, state.critic_params, state.value_norm, tr, key, target
        )

    def signal(
        self,
        actor_params: PyTree,
        critic_params: PyTree,
        value_norm: ValueNormState,
        tr: Transition,
        key: Array,
        lambda_return: Array,
    ) -> tuple[Array, dict]:
        """The actor's signal `X^i = Qhat - b(s, a^{-i})` `[T, B, A]` in raw reward scale,
        and its metrics.

        `Qhat` is `lambda_return` (`[T, B, A]`, raw scale) for `q_signal="return"`, the
        critic's `Q(s_t, a_t)` of the rollout for `q_signal="critic"`. Metrics: `ob_ess`, the
        mean effective sample size of a sampled (Gaussian) baseline's weights.
        """
        raw = (lambda v: returns.denormalize(value_norm, v)) if self.value_norm else (lambda v: v)
        q_hat = lambda_return if self.q_signal == "return" else raw(tr.value)
        if self.baseline == "none":
            return q_hat, {}
        baseline, ess = self.baseline_values(actor_params, critic_params, tr, key)
        metrics = {} if ess is None or self.baseline != "ob" else {"ob_ess": jnp.mean(ess)}
        return q_hat - raw(baseline), metrics
