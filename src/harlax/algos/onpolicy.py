"""The one on-policy learner: critic x baseline x scheme x step.

IPPO, MAPPO, HAPPO, HATRPO (and TRPO, MAPPO with a trust region, ...) are points of this
learner chosen by `Derived` (see config.py). One update is: rollout -> GAE -> actor
update (scheme, step) -> critic update. Batches are agent-major: leaves `[K, T, N, ...]`
where K is the number of agents a parameter set covers (all A when shared, 1 otherwise).

Active masks: where the environment reports inactive agents (SMAX: dead units, whose only
available action is the no-op), their samples are left out of every policy mean (clip
surrogate, entropy, trust-region surrogate and KL, the approx-KL / clip-fraction metrics),
of the advantage mean and std, and of the critic loss, as in HARL
(`use_policy_active_masks`, `use_value_active_masks`). Every such mean is
`returns.masked_mean`; where there is no mask it is the plain mean (bit-identical).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from harlax import returns
from harlax.algos.batches import CriticBatch, PolicyBatch, make_optimizer, prepare
from harlax.algos.grad_variance import minibatch_gradient_variance
from harlax.algos.minibatch import joint_minibatch_epochs, minibatch_epochs
from harlax.algos.policy_steps import POLICY_STEPS, clip_loss
from harlax.algos.q_critic import QCritic
from harlax.algos.sequential import agent_keys, sequential_update
from harlax.algos.v_critic import VCritic
from harlax.config import Config
from harlax.distributions import make_head
from harlax.layout import for_each_agent, initial_hidden_batch, rollout_agent_major
from harlax.losses import clipped_value_loss
from harlax.nets import AgentNet, make_nets, make_q_critic
from harlax.returns import masked_mean
from harlax.rollout import make_rollout, mode_action
from harlax.types import (
    Array,
    LearnerState,
    Observation,
    PyTree,
    RunnerState,
    Transition,
    ValueNormState,
)
from harlax.validation import Derived


class Collected(NamedTuple):
    """One rollout made ready for training (see `OnPolicyLearner.collect`)."""

    runner: RunnerState  # after the rollout
    transitions: Transition  # leaves [T, B, ...]
    advantage: Array  # [T, B, A] raw (before standardising): the actor's signal
    target: Array  # [T, B, K] critic targets (normalised if value_norm; K = 1: team critic)
    value_norm: ValueNormState  # updated with this rollout's targets
    policy: PolicyBatch
    critic: CriticBatch
    signal_metrics: dict


class OnPolicyLearner:
    """Builds the pure functions of the on-policy learner for one Config."""

    def __init__(
        self, config: Config, derived: Derived, env, actor: AgentNet, critic: AgentNet, head
    ):
        self.config, self.derived = config, derived
        self.env, self.actor, self.critic, self.head = env, actor, critic, head
        self.num_agents = env.spec.num_agents
        # Static: masks exist only where the environment reports inactive agents.
        self.policy_masks = config.use_policy_active_masks and env.spec.active_masks
        self.value_masks = (
            config.use_value_active_masks and env.spec.active_masks and config.team_critic is None
        )
        self.central = derived.critic == "central_v"
        # A shared actor under the simultaneous clip step trains side by side with the
        # critic: one shuffle and one loop of minibatch steps for both (`update_together`).
        self.fused = derived.scheme == "simultaneous" and derived.step == "clip" and actor.shared
        self.policy_step = POLICY_STEPS[derived.step]  # the step, chosen once
        sgd_steps = config.num_epochs * config.num_minibatches
        self.actor_tx = make_optimizer(config.lr, config, derived, sgd_steps)
        self.critic_tx = make_optimizer(config.critic_lr, config, derived, sgd_steps)
        # The critic, chosen once: its signal for the actor, its batch, its rollout value.
        self.critic_fns = VCritic(critic, self.central)
        if derived.critic == "central_q":
            self.critic_fns = QCritic(
                actor,
                critic,
                head,
                env.spec.action_dim,
                derived.baseline,
                config.ob_samples,
                config.value_norm,
                derived.q_signal,
            )
        self.rollout = make_rollout(
            env,
            actor,
            critic,
            head,
            self.central,
            config.rollout_length,
            q_value=self.critic_fns.rollout_value,
        )

    # ------------------------------------------------------------------ init
    def init_opt_states(self, actor_params: PyTree, critic_params: PyTree):
        actor_init = self.actor_tx.init if self.actor.shared else jax.vmap(self.actor_tx.init)
        return actor_init(actor_params), self.critic_tx.init(critic_params)

    def init(self, key: Array) -> LearnerState:
        """The learner state of one seed: fresh nets, optimisers, value norm and
        `num_envs` reset environments."""
        c = self.config
        actor_key, critic_key, env_key, state_key = jax.random.split(key, 4)
        actor_params = self.actor.init(actor_key)
        critic_params = self.critic.init(critic_key)
        actor_opt, critic_opt = self.init_opt_states(actor_params, critic_params)
        env_state = jax.vmap(self.env.reset)(jax.random.split(env_key, c.num_envs))
        runner = RunnerState(
            env_state=env_state,
            first=jnp.ones(c.num_envs, bool),
            actor_hidden=self.actor.initial_hidden(c.num_envs),
            critic_hidden=self.critic.initial_hidden(c.num_envs),
        )
        return LearnerState(
            actor_params=actor_params,
            critic_params=critic_params,
            actor_opt_state=actor_opt,
            critic_opt_state=critic_opt,
            value_norm=returns.value_norm_init(),
            runner=runner,
            key=state_key,
            update=jnp.zeros((), jnp.int32),
        )

    # ------------------------------------------------------------------ learner protocol
    def policy_params(self, state: LearnerState) -> PyTree:
        return state.actor_params

    def initial_policy_hidden(self, num_envs: int) -> Array:
        return self.actor.initial_hidden(num_envs)

    def greedy_action(self, params, hidden: Array, observation: Observation, first: Array):
        """The policy head's mode (see `harlax.learner.Learner.greedy_action`)."""
        return mode_action(self.actor, self.head, params, hidden, observation, first)

    def exported(self, state: LearnerState) -> dict[str, PyTree]:
        return {
            "actor": state.actor_params,
            "critic": state.critic_params,
            "value_norm": state.value_norm._asdict(),
        }

    # ------------------------------------------------------------------ policy pieces
    def policy_out(self, params: PyTree, agent_index: Array, batch: PolicyBatch) -> Array:
        """Network outputs `[K, T, N, ...]` of one parameter set for K agents."""
        _, out = self.actor.apply_group(
            params, agent_index, batch.init_hidden[:, 0], batch.obs, batch.first[0]
        )
        return out

    def update_policy(self, params, opt_state, batch: PolicyBatch, agent_index, key):
        """One parameter set's step on its batch: `(params, opt_state, new_log_prob
        [K, T, N], metrics)`, by the step chosen at construction (`harlax.algos.policy_steps`:
        PPO clip epochs or one trust-region step). Metric `kl` is the exact mean
        KL(old || new) over the batch (its active samples)."""
        old_out = jax.lax.stop_gradient(self.policy_out(params, agent_index, batch))
        params, opt_state, metrics, new_out = self.policy_step(
            self, params, opt_state, batch, agent_index, key, old_out
        )
        if new_out is None:
            new_out = self.policy_out(params, agent_index, batch)
        new_log_prob = self.head.log_prob(new_out, batch.avail, batch.action)
        metrics["kl"] = masked_mean(self.head.kl(old_out, new_out, batch.avail), batch.active)
        return params, opt_state, new_log_prob, metrics

    def _update_one_agent(self, params, opt_state, batch: PolicyBatch, agent_index, key):
        """`update_policy` on one agent's `[1, T, N]` batch; log-probs come back `[1, T, N]`."""
        params, opt_state, new_log_prob, metrics = self.update_policy(
            params, opt_state, prepare(batch, self.config.recurrent), agent_index, key
        )
        return params, opt_state, new_log_prob.reshape(batch.advantage.shape), metrics

    def update_actor(self, params, opt_state, batch: PolicyBatch, key):
        """All agents' policy update by the configured scheme; per-agent metrics `[A]`."""
        a = self.num_agents
        if self.derived.scheme == "sequential":
            return sequential_update(
                key, params, opt_state, batch, self._update_one_agent, self.config.fixed_order
            )
        batch = prepare(batch, self.config.recurrent)
        if self.actor.shared:
            params, opt_state, _, metrics = self.update_policy(
                params, opt_state, batch, jnp.arange(a), key
            )
            return params, opt_state, jax.tree.map(lambda m: jnp.full((a,), m), metrics)
        per_agent = jax.tree.map(lambda x: x[:, None], batch)
        params, opt_state, _, metrics = jax.vmap(self.update_policy)(
            params, opt_state, per_agent, jnp.arange(a)[:, None], agent_keys(key, a)[1]
        )
        return params, opt_state, metrics

    def pg_loss(self, params, batch: PolicyBatch) -> Array:
        """Vanilla policy-gradient loss `-mean(log pi * advantage)` over all agents."""
        _, out = self.actor.apply_all(params, batch.init_hidden[:, 0], batch.obs, batch.first[0])
        return -jnp.mean(self.head.log_prob(out, batch.avail, batch.action) * batch.advantage)

    # ------------------------------------------------------------------ critic
    def critic_loss(self, params, batch: CriticBatch):
        _, value = self.critic.apply_group(
            params,
            jnp.arange(self.critic.num_agents),
            batch.init_hidden[:, 0],
            batch.x,
            batch.first[0],
        )
        if batch.own_action is not None:
            value = jnp.take_along_axis(value, batch.own_action[..., None], axis=-1)[..., 0]
        c = self.config
        loss = clipped_value_loss(
            value, batch.target, batch.old_value, c.value_clip_eps, c.value_loss, c.huber_delta
        )
        return masked_mean(loss, batch.active), {}

    def update_critic(self, params, opt_state, batch: CriticBatch, key):
        c = self.config
        params, opt_state, metrics = minibatch_epochs(
            key,
            params,
            opt_state,
            prepare(batch, c.recurrent),
            self.critic_loss,
            self.critic_tx,
            c.num_epochs,
            c.num_minibatches,
        )
        return params, opt_state, critic_metrics(metrics)

    # ------------------------------------------------------------------ fused
    def update_together(self, state: LearnerState, policy: PolicyBatch, critic: CriticBatch, key):
        """Shared actor and critic epochs over the same minibatches (see `self.fused`).

        Returns `(actor_params, actor_opt, actor_metrics [A], critic_params, critic_opt,
        critic_metrics)`. The actor's `kl` metric is the minibatches' sample estimate
        (no extra pass over the batch), not the exact KL of `update_policy`.
        """
        c, a = self.config, self.num_agents
        (actor, critic_params), (actor_opt, critic_opt), (am, cm) = joint_minibatch_epochs(
            key,
            (state.actor_params, state.critic_params),
            (state.actor_opt_state, state.critic_opt_state),
            (prepare(policy, c.recurrent), prepare(critic, c.recurrent)),
            (lambda p, mb: clip_loss(self, p, jnp.arange(a), mb), self.critic_loss),
            (self.actor_tx, self.critic_tx),
            c.num_epochs,
            c.num_minibatches,
        )
        am["kl"] = am.pop("approx_kl")
        actor_metrics = jax.tree.map(lambda m: jnp.full((a,), m), am)
        return actor, actor_opt, actor_metrics, critic_params, critic_opt, critic_metrics(cm)

    # ------------------------------------------------------------------ one update
    def advantages(self, value_norm, transitions: Transition, last_value: Array):
        """GAE in raw reward scale; returns (advantage, target) `[T, B, K]`: K = A, or
        1 for a team critic (on the team reward, `returns.team_reward`)."""
        c = self.config
        raw = (lambda v: returns.denormalize(value_norm, v)) if c.value_norm else (lambda v: v)
        reward = transitions.reward
        if c.team_critic is not None:
            reward = returns.team_reward(reward, c.team_critic)
        return returns.compute_gae(
            reward,
            raw(transitions.value),
            raw(transitions.bootstrap_value),
            transitions.terminated[..., None],
            transitions.truncated[..., None],
            raw(last_value),
            c.gamma,
            c.gae_lambda,
        )

    def actor_signal(self, state: LearnerState, tr: Transition, last_value: Array, key: Array):
        """`(advantage, target, metrics)`: the actor's signal and the critic's targets
        `[T, B, A]`, both raw reward scale. V critics: GAE and its lambda-returns. The Q
        critic: its targets are the same lambda-returns (of Q), and the signal is
        `Qhat - b(s, a^{-i})` from `QCritic.signal`."""
        advantage, target = self.advantages(state.value_norm, tr, last_value)
        signal, metrics = self.critic_fns.actor_signal(state, tr, key, advantage, target)
        return signal, target, metrics

    def collect(self, state: LearnerState, key: Array, rollout_key: Array) -> Collected:
        """One rollout and what training needs of it: advantages (the actor's signal),
        critic targets (normalised by the updated value norm), and the two batches."""
        c, a = self.config, self.num_agents
        runner0 = state.runner
        runner, tr, last_value = self.rollout(
            state.actor_params, state.critic_params, runner0, rollout_key
        )
        advantage, target, signal_metrics = self.actor_signal(
            state, tr, last_value, jax.random.fold_in(key, 1)
        )
        advantage = jnp.broadcast_to(advantage, tr.reward.shape)  # a team's, for each agent
        value_norm = state.value_norm
        if c.value_norm:
            value_norm = returns.value_norm_update(value_norm, target)
            target = returns.normalize(value_norm, target)
        policy_active = tr.active if self.policy_masks else None
        policy_advantage = advantage
        if c.normalize_advantages:
            policy_advantage = returns.standardize(advantage, policy_active)

        first = for_each_agent(tr.first, a)
        critic_first = for_each_agent(tr.first, self.critic.num_agents)
        policy_batch = PolicyBatch(
            obs=rollout_agent_major(tr.obs.obs),
            avail=rollout_agent_major(tr.obs.avail),
            action=rollout_agent_major(tr.action),
            old_log_prob=rollout_agent_major(tr.log_prob),
            advantage=rollout_agent_major(policy_advantage),
            first=first,
            init_hidden=initial_hidden_batch(runner0.actor_hidden),
            active=None if policy_active is None else rollout_agent_major(policy_active),
        )
        x, own_action = self.critic_fns.batch_inputs(tr)
        critic_batch = CriticBatch(
            x=rollout_agent_major(x),
            target=rollout_agent_major(target),
            old_value=rollout_agent_major(tr.value),
            first=critic_first,
            init_hidden=initial_hidden_batch(runner0.critic_hidden),
            own_action=None if own_action is None else rollout_agent_major(own_action),
            active=rollout_agent_major(tr.active) if self.value_masks else None,
        )
        return Collected(
            runner, tr, advantage, target, value_norm, policy_batch, critic_batch, signal_metrics
        )

    def update(self, state: LearnerState) -> tuple[LearnerState, dict]:
        """Collect one rollout and update actor and critic. Metrics are scalars or `[A]`."""
        c = self.config
        key, rollout_key, actor_key, critic_key = jax.random.split(state.key, 4)
        runner, tr, advantage, target, value_norm, policy_batch, critic_batch, signal_metrics = (
            self.collect(state, key, rollout_key)
        )
        if self.fused:
            (actor_params, actor_opt, actor_metrics, critic_params, critic_opt, critic_m) = (
                self.update_together(state, policy_batch, critic_batch, actor_key)
            )
        else:
            actor_params, actor_opt, actor_metrics = self.update_actor(
                state.actor_params, state.actor_opt_state, policy_batch, actor_key
            )
            critic_params, critic_opt, critic_m = self.update_critic(
                state.critic_params, state.critic_opt_state, critic_batch, critic_key
            )

        episodes = jnp.sum(tr.episode_done)
        metrics = {
            "episode_return_sum": jnp.sum(jnp.where(tr.episode_done, tr.episode_return, 0.0)),
            "episodes": episodes,
            **episode_wins(self.env.spec, tr),
            "reward_mean": jnp.mean(tr.reward),
            "advantage_mean": jnp.mean(advantage),
            "value_target_mean": jnp.mean(target),
            **signal_metrics,
            **critic_m,
            **{f"actor_{k}": v for k, v in actor_metrics.items()},
        }
        if c.grad_variance_splits:
            raw_batch = prepare(
                policy_batch._replace(advantage=rollout_agent_major(advantage)), c.recurrent
            )
            metrics["pg_grad_var"] = minibatch_gradient_variance(
                jax.random.fold_in(key, 2),
                state.actor_params,
                raw_batch,
                self.pg_loss,
                c.grad_variance_splits,
            )
        new_state = LearnerState(
            actor_params=actor_params,
            critic_params=critic_params,
            actor_opt_state=actor_opt,
            critic_opt_state=critic_opt,
            value_norm=value_norm,
            runner=runner,
            key=key,
            update=state.update + 1,
        )
        return new_state, metrics


def episode_wins(spec, tr: Transition) -> dict:
    """`{"episodes_won": [] int}`, the won episodes that ended in the rollout, where the
    environment reports wins (the host divides by `episodes`: `logging.win_rates`)."""
    if not spec.win_signal:
        return {}
    return {"episodes_won": jnp.sum(tr.episode_done & tr.episode_won)}


def critic_metrics(metrics: dict) -> dict:
    """The critic's minibatch metrics under their logged names."""
    return {"critic_loss": metrics["loss"], "critic_grad_norm": metrics["grad_norm"]}


def build_learner(config: Config, derived: Derived, env) -> OnPolicyLearner:
    """The on-policy learner of a config: its nets (a V critic, local or central, or the
    central Q critic) and its policy head, for `env`."""
    spec = env.spec
    actor, critic = make_nets(
        spec, config, derived.share_params, central_critic=derived.critic == "central_v"
    )
    if derived.critic == "central_q":
        critic = make_q_critic(spec, config)
    return OnPolicyLearner(config, derived, env, actor, critic, make_head(spec.discrete))
