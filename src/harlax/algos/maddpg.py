"""MADDPG (Lowe et al., 2017) and its decentralised-critic ablation (independent DDPG).

Each agent i has a deterministic actor `mu_i(o_i)` and its own critic `Q_i`, so rewards may
differ between agents (competitive and mixed tasks). The critic sees the global state and
all agents' actions, `Q_i(x, a_1..a_N)`, or, in the ablation, only `Q_i(o_i, a_i)`. The
choice is per agent (`critic_centralised`): with `adversary_algo` the adversary team uses
one learner and the others `algo` (the paper's cross-play), all critics still one stacked
net whose inputs are masked per agent (`critic_input_mask`).

One update (the unit `make_train` scans over) is: collect `num_envs * rollout_length`
exploratory steps, add them to a flashbax replay buffer, then take `gradient_steps` steps,
each on a sampled batch: critic regression to `y_i = r_i + gamma * Q_i'(x', a')` with
`a'_j = mu_j'(o'_j)` from target actors (or agent i's inferred approximations of the other
agents' policies), actor ascent on `Q_i(x, a_1.., mu_i(o_i), ..a_N)` with the other agents'
actions from the buffer, and Polyak averaging of the targets. Everything is one jit-able
pure function. Discrete actions use Gumbel-softmax samples, one kind throughout (as in the
reference implementation, openai/maddpg): the soft sample by default, the straight-through
one-hot with `gumbel_hard`. Acting stores the sample in the buffer (the environment executes
its argmax), and the actor loss, the target actions and the inferred policies draw the
same kind, so the critic is never queried at inputs unlike those it was trained on.
Continuous actions are squashed into the action bounds and explored with Gaussian noise.

The paper's two extensions are options. `infer_policies`: agent i fits models of the
other agents' policies to their replayed actions (log-likelihood plus an entropy bonus) and
bootstraps its critic from target copies of them (Polyak-averaged with `tau`, Lowe et al.,
eq. 7) instead of the other agents' target actors. `ensemble_size` K: each
agent has K sub-policies (actors stacked `[A * K, ...]`), one drawn per agent each update
(one episode with the presets' rollout_length = 25); every transition records the acting
sub-policies, and sub-policy k's objective averages only over its own transitions. This is
the paper's per-sub-policy replay buffer realised as disjoint shares of one flashbax buffer
(so the capacity is shared and a sampled batch holds about batch_size / K of each share).

Shapes: A agents, U padded action size, N batch (environments or sampled transitions).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from harlax import returns
from harlax.algos.offpolicy import (
    apply_stacked,
    critic_centralised,
    critic_input_mask,
    make_replay_buffer,
    polyak,
    stacked_apply,
    stacked_optimizer_init,
    td_target,
)
from harlax.algos.policy_inference import PolicyInference
from harlax.config import Config
from harlax.distributions import MASKED_LOGIT, gumbel_softmax, make_head
from harlax.nets import make_maddpg_nets
from harlax.types import Array, Observation, OffPolicyState, PyTree, Replay, RunnerState
from harlax.validation import Derived


class MADDPGLearner:
    """Builds the pure functions of MADDPG / DDPG for one Config (see module docstring)."""

    def __init__(self, config: Config, derived: Derived, env):
        self.config, self.derived, self.env = config, derived, env
        spec = env.spec
        self.spec = spec
        self.num_agents = spec.num_agents
        self.central = critic_centralised(derived, spec.agents)  # [A] bool
        self.critic_mask, self.critic_columns = critic_input_mask(spec, self.central)
        self.infer = config.infer_policies
        self.actor, self.critic, approx = make_maddpg_nets(spec, config, len(self.critic_columns))
        self.head = make_head(spec.discrete)
        self.ensemble_size = config.ensemble_size
        self.low = self.high = None  # continuous actions' bounds [U]
        if not spec.discrete:
            self.low = jnp.asarray(spec.action_low, jnp.float32)
            self.high = jnp.asarray(spec.action_high, jnp.float32)

        def optimizer(lr: float) -> optax.GradientTransformation:
            return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr))

        self.actor_tx = optimizer(config.lr)
        self.critic_tx = optimizer(config.critic_lr)
        self.inference = PolicyInference(
            approx, self.head, spec, config, optimizer(config.lr), self.low, self.high
        )
        self.buffer = make_replay_buffer(config)

    # ------------------------------------------------------------------ networks
    def actor_out(self, params: PyTree, obs: Array) -> Array:
        """Raw outputs (logits or pre-squash) of every sub-policy `[N, A, K, U]` for
        observations `[N, A, O]` (K = ensemble_size; actor params stacked `[A * K, ...]`)."""
        k = self.ensemble_size
        x = jnp.repeat(jnp.swapaxes(obs, 0, 1), k, axis=0)  # [A * K, N, O], index i * K + k
        out = apply_stacked(self.actor, params, x)
        return jnp.moveaxis(out.reshape((self.num_agents, k) + out.shape[1:]), 2, 0)

    @staticmethod
    def select(raw: Array, sub_policy: Array) -> Array:
        """Each agent's acting sub-policy: `[N, A, K, U]`, sub_policy `[A]` or `[N, A]` ->
        `[N, A, U]`."""
        index = jnp.broadcast_to(sub_policy, raw.shape[:2])[..., None, None]
        return jnp.take_along_axis(raw, index, axis=2)[:, :, 0]

    def squash(self, raw: Array, mask: Array) -> Array:
        """Continuous: raw outputs -> actions inside `[low, high]`, 0 where `mask` is false
        (padded dimensions; for continuous actions `avail` is this mask)."""
        action = self.low + (self.high - self.low) * 0.5 * (jnp.tanh(raw) + 1.0)
        return jnp.where(mask, action, 0.0)

    def policy_action(self, raw: Array, avail: Array, key: Array) -> Array:
        """The differentiable action the critic sees `[..., U]`: a Gumbel-softmax sample
        (discrete; soft, or straight-through one-hot with `gumbel_hard`) or the deterministic
        squashed action (continuous). Discrete acting, the stored actions, the actor loss and
        the targets all use this one sample kind, so the critic is queried where it is trained.
        """
        if self.spec.discrete:
            return gumbel_softmax(
                key, raw, avail, self.config.gumbel_temperature, self.config.gumbel_hard
            )
        return self.squash(raw, avail)

    def explore(self, raw: Array, avail: Array, key: Array) -> tuple[Array, Array]:
        """Exploratory `(env_action, critic_action [N, A, U])` for acting in the environment.

        Discrete: `critic_action` is the `policy_action` sample (soft Gumbel-softmax, or its
        one-hot with `gumbel_hard`), the vector the replay buffer stores and the critic is
        trained on, as in the reference implementation (openai/maddpg, whose MPE takes the
        soft vector). JaxMARL's MPE takes an integer, so the environment executes the
        sample's argmax `[N, A]`, an exact sample of softmax(logits) (Gumbel-max, at any
        temperature). Continuous: the squashed action plus Gaussian noise of std
        `exploration_noise * (high - low)`, clipped to the bounds.
        """
        if self.spec.discrete:
            sample = jax.lax.stop_gradient(self.policy_action(raw, avail, key))
            return jnp.argmax(sample, axis=-1).astype(jnp.int32), sample
        scale = self.config.exploration_noise * (self.high - self.low)
        noisy = self.squash(raw, avail) + scale * jax.random.normal(key, raw.shape)
        action = jnp.where(avail, jnp.clip(noisy, self.low, self.high), 0.0)
        return action, action

    # ------------------------------------------------------------------ learner protocol
    def policy_params(self, state: OffPolicyState) -> PyTree:
        return state.actor_params

    def initial_policy_hidden(self, num_envs: int) -> Array:
        return jnp.zeros((num_envs, self.num_agents, 0))  # feed-forward actors

    def greedy_action(self, params, hidden: Array, observation: Observation, first: Array):
        """The deterministic action: the argmax of the logits (discrete) or the squashed
        output (continuous). With policy ensembles, environment `e` of the batch plays
        sub-policy `e mod K` of every agent, so an evaluation covers the ensemble evenly."""
        n = observation.obs.shape[0]
        sub_policy = jnp.broadcast_to(
            (jnp.arange(n) % self.ensemble_size)[:, None], (n, self.num_agents)
        )
        raw = self.select(self.actor_out(params, observation.obs), sub_policy)
        if self.spec.discrete:
            return hidden, jnp.argmax(jnp.where(observation.avail, raw, MASKED_LOGIT), axis=-1)
        return hidden, self.squash(raw, observation.avail)

    def exported(self, state: OffPolicyState) -> dict[str, PyTree]:
        inferred = {"approx": state.approx_params} if self.infer else {}
        return {"actor": state.actor_params, "critic": state.critic_params, **inferred}

    def q_values(self, params: PyTree, obs: Observation, joint: Array) -> Array:
        """Each agent's critic on its own joint action: `joint [A, N, A, U]` -> `[A, N]`.

        `joint[i]` is the joint action critic i evaluates. Centralised: `Q_i(x, joint[i])`
        with `x` the global state `[N, S]`; decentralised: `Q_i(o_i, joint[i, :, i])`
        (per agent; the inputs a critic does not see are masked, see `critic_input_mask`).
        """
        return apply_stacked(self.critic, params, self.critic_input(obs, joint))

    def critic_input(self, obs: Observation, joint: Array) -> Array:
        """Masked critic inputs `[A, N, D]` for `joint [A, N, A, U]` (see `critic_input_mask`)."""
        a, n = joint.shape[:2]
        state = jnp.broadcast_to(obs.state[None], (a,) + obs.state.shape)  # [A, N, S]
        own = joint[jnp.arange(a), :, jnp.arange(a)]  # [A, N, U]
        full = [state, jnp.swapaxes(obs.obs, 0, 1), own, joint.reshape(a, n, -1)]
        x = jnp.concatenate(full, axis=-1)[..., self.critic_columns]
        return jnp.where(self.critic_mask[:, None], x, 0.0)

    # ------------------------------------------------------------------ policy inference
    # ------------------------------------------------------------------ losses
    def target_joint(
        self,
        target_actor: PyTree,
        approx: PyTree,
        next_obs: Observation,
        sub_policy: Array,
        key: Array,
    ) -> Array:
        """The next joint action each critic bootstraps from `[A(critic), N, A, U]`.

        Agent j's target sub-policy is the one that acted in the transition (`sub_policy`
        `[N, A]`); with `infer_policies`, critic i uses the target copies of its own models
        of the others (`approx`: target inference params).
        """
        a = self.num_agents
        own_key, approx_key = jax.random.split(key)
        raw = self.select(self.actor_out(target_actor, next_obs.obs), sub_policy)
        own = self.policy_action(raw, next_obs.avail, own_key)  # [N, A, U]
        joint = jnp.broadcast_to(own[None], (a,) + own.shape)
        if self.infer:
            inferred = self.inference.action(approx, next_obs, approx_key)
            mine = jnp.eye(a, dtype=bool)[:, None, :, None]
            joint = jnp.where(mine, joint, inferred)
        return joint

    def critic_loss(self, params: PyTree, batch: Replay, target: Array):
        """Sum over agents of mean squared TD error; per-agent losses and Q means `[A]`."""
        a = self.num_agents
        joint = jnp.broadcast_to(batch.action[None], (a,) + batch.action.shape)
        q = self.q_values(params, batch.obs, joint)
        per_agent = jnp.mean((q - target) ** 2, axis=-1)
        return jnp.sum(per_agent), (per_agent, jnp.mean(q, axis=-1))

    def actor_loss(self, params: PyTree, critic_params: PyTree, batch: Replay, key: Array):
        """`-Q_i(x, a_1.., mu_i^k(o_i), ..a_N)` (others' actions from the buffer) plus
        `action_reg * mean(raw^2)`, for every agent i and sub-policy k; per-agent `[A]`.

        Sub-policy k of agent i averages only over the transitions it acted in (its own
        share of the replay: `sub_policy[:, i] == k`), and the ensemble objective is the
        mean over k (Lowe et al., eq. 9); with K = 1 this is the plain batch mean. Each
        term depends only on its own actor, so the gradient of the sum with respect to the
        stacked parameters is every sub-policy's own gradient.
        """
        a, k = self.num_agents, self.ensemble_size
        n, _, u = batch.action.shape
        raw = self.actor_out(params, batch.obs.obs)  # [N, A, K, U]
        avail = batch.obs.avail[:, :, None]
        new = jnp.transpose(self.policy_action(raw, avail, key), (1, 2, 0, 3))  # [A, K, N, U]
        mine = jnp.eye(a, dtype=bool)[:, None, None, :, None]  # [A(critic), 1, 1, A, 1]
        joint = jnp.where(mine, new[:, :, :, None], batch.action[None, None])  # [A,K,N,A,U]
        tiled = jax.tree.map(lambda x: jnp.tile(x, (k,) + (1,) * (x.ndim - 1)), batch.obs)
        q = self.q_values(critic_params, tiled, joint.reshape(a, k * n, a, u)).reshape(a, k, n)
        reg = jnp.transpose(jnp.mean(jnp.where(avail, raw, 0.0) ** 2, -1), (1, 2, 0))
        own = (batch.sub_policy.T[:, None, :] == jnp.arange(k)[None, :, None]).astype(q.dtype)
        per_sub = jnp.sum(own * (self.config.action_reg * reg - q), -1) / jnp.maximum(
            jnp.sum(own, -1), 1.0
        )  # [A, K]
        return jnp.sum(per_sub) / k, jnp.mean(per_sub, axis=1)

    # ------------------------------------------------------------------ one gradient step
    def gradient_step(self, state: OffPolicyState, batch: Replay, key: Array):
        """Critic, actor (and inference) steps on one batch, then Polyak averaging of the
        target actors, critics and (with `infer_policies`) inferred policies."""
        c = self.config
        target_key, actor_key = jax.random.split(key)
        metrics = {}
        approx, approx_opt = state.approx_params, state.approx_opt_state
        if self.infer:
            grads, per_agent = jax.grad(self.inference.loss, has_aux=True)(approx, batch)
            approx, approx_opt = stacked_apply(self.inference.tx, approx, approx_opt, grads)
            metrics["inference_loss"] = per_agent
        joint = self.target_joint(
            state.target_actor_params,
            state.target_approx_params,
            batch.next_obs,
            batch.sub_policy,
            target_key,
        )
        next_q = self.q_values(state.target_critic_params, batch.next_obs, joint)
        target = jax.lax.stop_gradient(td_target(batch.reward.T, batch.terminated, next_q, c.gamma))
        grads, (critic_loss, q_mean) = jax.grad(self.critic_loss, has_aux=True)(
            state.critic_params, batch, target
        )
        critic, critic_opt = stacked_apply(
            self.critic_tx, state.critic_params, state.critic_opt_state, grads
        )
        grads, actor_loss = jax.grad(self.actor_loss, has_aux=True)(
            state.actor_params, critic, batch, actor_key
        )
        actor, actor_opt = stacked_apply(
            self.actor_tx, state.actor_params, state.actor_opt_state, grads
        )
        state = state._replace(
            actor_params=actor,
            critic_params=critic,
            actor_opt_state=actor_opt,
            critic_opt_state=critic_opt,
            approx_params=approx,
            approx_opt_state=approx_opt,
            target_actor_params=polyak(actor, state.target_actor_params, c.tau),
            target_critic_params=polyak(critic, state.target_critic_params, c.tau),
            target_approx_params=polyak(approx, state.target_approx_params, c.tau),
        )
        metrics.update(critic_loss=critic_loss, actor_loss=actor_loss, q_mean=q_mean)
        return state, metrics

    # ------------------------------------------------------------------ acting
    def collect(self, actor_params: PyTree, sub_policy: Array, runner: RunnerState, key: Array):
        """`rollout_length` exploratory steps of all environments, each agent acting with
        its sub-policy `sub_policy [A]` (all 0 without ensembles).

        Returns the next runner, the transitions `Replay [T, B, ...]`, and episode data:
        done `[T, B]`, mean-over-agents return `[T, B]`, per-agent return `[T, B, A]` of
        episodes ending at that step.
        """
        batched_step = jax.vmap(self.env.step)

        def step(runner: RunnerState, key: Array):
            observation = runner.env_state.observation
            act_key, env_key = jax.random.split(key)
            raw = self.select(self.actor_out(actor_params, observation.obs), sub_policy)
            env_action, critic_action = self.explore(raw, observation.avail, act_key)
            num_envs = runner.first.shape[0]
            env_state, info = batched_step(
                jax.random.split(env_key, num_envs), runner.env_state, env_action
            )
            agent_return = runner.env_state.episode_return + info.reward
            done = info.terminated | info.truncated
            item = Replay(
                obs=observation,
                action=critic_action,
                reward=info.reward,
                next_obs=info.final,
                terminated=info.terminated,
                sub_policy=jnp.broadcast_to(sub_policy, info.reward.shape),
            )
            runner = runner._replace(env_state=env_state, first=done)
            return runner, (item, done, info.episode_return, agent_return)

        return jax.lax.scan(step, runner, jax.random.split(key, self.config.rollout_length))

    # ------------------------------------------------------------------ init / update
    def init_opt_states(self, actor_params: PyTree, critic_params: PyTree):
        return (
            stacked_optimizer_init(self.actor_tx, actor_params),
            stacked_optimizer_init(self.critic_tx, critic_params),
        )

    def example_item(self, observation: Observation) -> Replay:
        """A zero `Replay` shaped like one transition (flashbax's buffer template)."""
        a, u = self.num_agents, self.spec.action_dim
        return Replay(
            obs=observation,
            action=jnp.zeros((a, u)),
            reward=jnp.zeros(a),
            next_obs=observation,
            terminated=jnp.zeros((), bool),
            sub_policy=jnp.zeros(a, jnp.int32),
        )

    def init(self, key: Array) -> OffPolicyState:
        c = self.config
        actor_key, critic_key, approx_key, env_key, state_key = jax.random.split(key, 5)
        actor_params = self.actor.init(actor_key)
        critic_params = self.critic.init(critic_key)
        actor_opt, critic_opt = self.init_opt_states(actor_params, critic_params)
        approx_params, approx_opt = (), ()
        if self.infer:
            approx_params = self.inference.net.init(approx_key)
            approx_opt = stacked_optimizer_init(self.inference.tx, approx_params)
        env_state = jax.vmap(self.env.reset)(jax.random.split(env_key, c.num_envs))
        first_obs = jax.tree.map(lambda x: x[0], env_state.observation)
        runner = RunnerState(
            env_state=env_state,
            first=jnp.ones(c.num_envs, bool),
            actor_hidden=jnp.zeros((c.num_envs, self.num_agents, 0)),
            critic_hidden=jnp.zeros((c.num_envs, self.num_agents, 0)),
        )
        return OffPolicyState(
            actor_params=actor_params,
            critic_params=critic_params,
            actor_opt_state=actor_opt,
            critic_opt_state=critic_opt,
            target_actor_params=actor_params,
            target_critic_params=critic_params,
            approx_params=approx_params,
            approx_opt_state=approx_opt,
            target_approx_params=approx_params,
            buffer=self.buffer.init(self.example_item(first_obs)),
            value_norm=returns.value_norm_init(),
            runner=runner,
            key=state_key,
            update=jnp.zeros((), jnp.int32),
        )

    def train_steps(self, state: OffPolicyState, key: Array):
        """`gradient_steps` sampled gradient steps; metrics are means over them, `[A]`."""

        def body(state, key):
            sample_key, step_key = jax.random.split(key)
            batch = self.buffer.sample(state.buffer, sample_key).experience
            return self.gradient_step(state, batch, step_key)

        state, metrics = jax.lax.scan(
            body, state, jax.random.split(key, self.config.gradient_steps)
        )
        return state, jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)

    def update(self, state: OffPolicyState) -> tuple[OffPolicyState, dict]:
        """Collect, store, and (once the buffer holds `learning_starts`) train.

        Metrics: scalars or `[A]`; the training metrics are NaN before learning starts,
        and `trained` says whether this update took gradient steps (the NaN guard skips
        updates where it is false).
        """
        key, collect_key, train_key, ensemble_key = jax.random.split(state.key, 4)
        # Policy ensembles: each agent's sub-policy for this update's episodes.
        sub_policy = jax.random.randint(ensemble_key, (self.num_agents,), 0, self.ensemble_size)
        runner, (items, done, episode_return, agent_return) = self.collect(
            state.actor_params, sub_policy, state.runner, collect_key
        )
        flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), items)
        state = state._replace(
            buffer=self.buffer.add(state.buffer, flat),
            runner=runner,
            key=key,
            update=state.update + 1,
        )

        shapes = jax.eval_shape(lambda s: self.train_steps(s, train_key)[1], state)
        skipped = jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), shapes)
        trained = self.buffer.can_sample(state.buffer)
        state, train_metrics = jax.lax.cond(
            trained,
            lambda s: self.train_steps(s, train_key),
            lambda s: (s, skipped),
            state,
        )

        metrics = {
            "episode_return_sum": jnp.sum(jnp.where(done, episode_return, 0.0)),
            "episodes": jnp.sum(done),
            "agent_return_sum": jnp.sum(jnp.where(done[..., None], agent_return, 0.0), axis=(0, 1)),
            "reward_mean": jnp.mean(items.reward),
            "trained": trained,
            **({"sub_policy": sub_policy} if self.ensemble_size > 1 else {}),
            **train_metrics,
        }
        return state, metrics
