"""Collect a rollout: lax.scan over time of policy sampling and vmapped environment steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from harlax.layout import agent_major, batch_major, swap_agents
from harlax.nets import AgentNet
from harlax.types import Array, Observation, PyTree, RunnerState, Transition


def mode_action(
    actor: AgentNet, head, params: PyTree, hidden: Array, observation: Observation, first: Array
) -> tuple[Array, Array]:
    """The policy head's mode on a batch of environments: `hidden [B, A, H]`, observation
    leaves `[B, A, ...]`, `first [B]` -> `(hidden [B, A, H], action [B, A(, U)])`."""
    hidden, out = actor.apply_all(
        params, swap_agents(hidden), agent_major(observation.obs), first[None]
    )
    return swap_agents(hidden), head.mode(batch_major(out), observation.avail)


def critic_input(observation: Observation, central: bool, num_agents: int) -> Array:
    """Critic input `[..., A, D]`: the global state for every agent, or local observations."""
    if not central:
        return observation.obs
    state = observation.state[..., None, :]
    return jnp.broadcast_to(state, state.shape[:-2] + (num_agents, state.shape[-1]))


def make_value_fn(critic: AgentNet, central: bool) -> Callable:
    """`value(params, hidden [B, A, H], observation [B, ...], first [B]) -> ([B, A], hidden)`."""

    def value(params: PyTree, hidden: Array, observation: Observation, first: Array):
        x = agent_major(critic_input(observation, central, critic.num_agents))
        new_hidden, v = critic.apply_all(params, swap_agents(hidden), x, first[None])
        return batch_major(v), swap_agents(new_hidden)

    return value


# Reset states drawn before the time scan are kept while `[T, B]` of them fit this budget;
# beyond it (long rollouts of large physics states) each step resets inside the scan.
HOISTED_RESET_BYTES = 64 * 2**20


class StepRandomness(NamedTuple):
    """What is random in each rollout step, drawn before the time scan (leaves `[T, ...]`):
    the same keys and noise, and so the same numbers, as drawing them step by step.

    Drawn one step at a time, each of these is a few tiny hashes per step; drawn for all
    T at once they are a few large ones, and the reset states (which depend on nothing
    but their keys) are computed in one batched call."""

    action_noise: Array  # [T, B, A, U] the noise of the step's action sample (head.sample_noise)
    env: Array  # [T, B, 2] keys of the environments' own steps
    fresh: PyTree  # [T, B] reset states (`env.reset`), or `[T, B, 2]` their keys


def reset_bytes(env, num_steps: int, num_envs: int) -> int:
    """Bytes of `[num_steps, num_envs]` reset states of `env`."""
    shapes = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
    per_state = sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(shapes))
    return int(per_state) * num_steps * num_envs


def draw_step_randomness(
    env, head, key: Array, num_steps: int, mask_shape: tuple[int, ...], hoist_resets: bool
) -> StepRandomness:
    """The keys of T steps of B environments: step t's key is `split(key, T)[t]`, split
    into its action key and its environments' key, which `env.split_key` splits per
    environment into its step and reset keys (`env.step`'s own derivation). The action
    key gives the noise of the step's sample, `head.sample_noise(key, mask_shape)`: one
    large hash before the scan instead of a small one inside it. `mask_shape` is the
    action masks' `[B, A, U]`."""
    num_envs = mask_shape[0]
    step_keys = jax.vmap(jax.random.split)(jax.random.split(key, num_steps))  # [T, 2, 2]
    action_noise = jax.vmap(lambda k: head.sample_noise(k, mask_shape))(step_keys[:, 0])
    env_keys = jax.vmap(lambda k: jax.random.split(k, num_envs))(step_keys[:, 1])
    env_step, env_reset = jax.vmap(jax.vmap(env.split_key))(env_keys)  # [T, B, 2] each
    fresh = jax.vmap(jax.vmap(env.reset))(env_reset) if hoist_resets else env_reset
    return StepRandomness(action_noise=action_noise, env=env_step, fresh=fresh)


def _flat(tree: PyTree) -> PyTree:
    """Merge the time and batch axes of every leaf: `[T, B, ...]` -> `[T * B, ...]`."""
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)


def make_rollout(
    env,
    actor: AgentNet,
    critic: AgentNet,
    head,
    central: bool,
    num_steps: int,
    q_value: Callable | None = None,
) -> Callable:
    """`rollout(actor_params, critic_params, runner, key) -> (runner, Transition [T, B, ...],
    last_value [B, A])`.

    With a Q critic, `q_value(actor_params, critic_params, observation, action | None, key)
    -> [..., A]` replaces the V critic: `value` is Q of the taken joint action, and the
    bootstrap / last values are Q of a joint action sampled from the policy (SARSA).

    The time scan holds what must be sequential: the actor, the environment and a
    recurrent critic (its hidden state). A feed-forward critic (V or Q) is a function of
    each step's data alone, so its values of the T observations and T final observations
    are computed after the scan in one batched call each: large matmuls instead of 2T
    small ones inside the loop.
    """
    value_fn = make_value_fn(critic, central)
    batched_step = jax.vmap(env.step_from)
    critic_in_scan = q_value is None and critic.hidden_size > 0

    def step(params, runner: RunnerState, randomness: StepRandomness, hoisted: bool):
        actor_params, critic_params = params
        observation = runner.env_state.observation
        actor_hidden, out = actor.apply_all(
            actor_params,
            swap_agents(runner.actor_hidden),
            agent_major(observation.obs),
            runner.first[None],
        )
        out = batch_major(out)
        action = head.sample_from_noise(randomness.action_noise, out, observation.avail)
        log_prob = head.log_prob(out, observation.avail, action)
        value = bootstrap_value = None  # filled in after the scan unless critic_in_scan
        critic_hidden = runner.critic_hidden
        if critic_in_scan:
            value, critic_hidden = value_fn(
                critic_params, runner.critic_hidden, observation, runner.first
            )
        fresh = randomness.fresh if hoisted else jax.vmap(env.reset)(randomness.fresh)
        env_state, info = batched_step(randomness.env, runner.env_state, action, fresh)
        if critic_in_scan:
            # The value of the true final observation, for bootstrapping on truncation.
            bootstrap_value, _ = value_fn(
                critic_params, critic_hidden, info.final, jnp.zeros_like(runner.first)
            )
        done = info.terminated | info.truncated
        transition = Transition(
            obs=observation,
            first=runner.first,
            action=action,
            log_prob=log_prob,
            value=value,
            reward=info.reward,
            terminated=info.terminated,
            truncated=info.truncated,
            bootstrap_value=bootstrap_value,
            episode_return=info.episode_return,
            episode_done=done,
            active=runner.env_state.active,
            episode_won=info.won,
        )
        next_runner = RunnerState(
            env_state=env_state,
            first=done,
            actor_hidden=swap_agents(actor_hidden),
            critic_hidden=critic_hidden,
        )
        return next_runner, (transition, None if critic_in_scan else info.final)

    def feed_forward_values(params, tr: Transition, finals: Observation, key: Array):
        """`[T, B, A]` values of the taken steps and of their final observations."""
        t, b = tr.first.shape
        if q_value is not None:
            value = q_value(*params, tr.obs, tr.action, None)
            bootstrap = q_value(*params, finals, None, jax.random.fold_in(key, 1))
            return value, bootstrap
        both = jax.tree.map(lambda x, y: jnp.concatenate([x, y]), _flat(tr.obs), _flat(finals))
        zeros = jnp.zeros((2 * t * b,), bool)
        v, _ = value_fn(params[1], critic.initial_hidden(2 * t * b), both, zeros)
        v = v.reshape((2, t, b) + v.shape[1:])
        return v[0], v[1]

    def rollout(actor_params: PyTree, critic_params: PyTree, runner: RunnerState, key: Array):
        params = (actor_params, critic_params)
        num_envs = runner.first.shape[0]
        hoisted = reset_bytes(env, num_steps, num_envs) <= HOISTED_RESET_BYTES
        mask_shape = runner.env_state.observation.avail.shape
        randomness = draw_step_randomness(env, head, key, num_steps, mask_shape, hoisted)
        runner, (transitions, finals) = jax.lax.scan(
            lambda r, x: step(params, r, x, hoisted), runner, randomness
        )
        if not critic_in_scan:
            value, bootstrap = feed_forward_values(params, transitions, finals, key)
            transitions = transitions._replace(value=value, bootstrap_value=bootstrap)
        if q_value is None:
            last_value, _ = value_fn(
                critic_params, runner.critic_hidden, runner.env_state.observation, runner.first
            )
        else:
            last_value = q_value(
                *params, runner.env_state.observation, None, jax.random.fold_in(key, 2)
            )
        return runner, transitions, last_value

    return rollout
