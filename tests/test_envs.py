"""The JaxMARL adapter: shapes, padding and masks, termination vs truncation, and the
bootstrap value of a truncated episode."""

from __future__ import annotations

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxmarl.environments import spaces
from jaxmarl.environments.multi_agent_env import MultiAgentEnv, State
from opsutil import Constant, DuelEnv

import harlax
from harlax.distributions import CategoricalHead, GaussianHead
from harlax.envs.jaxmarl import JaxMARLAdapter
from harlax.nets import AgentNet
from harlax.rollout import make_rollout
from harlax.types import RunnerState

KEY = jax.random.PRNGKey(0)


class CounterEnv(MultiAgentEnv):
    """Two agents observe the step count; the episode terminates when agent 0 plays
    action 1 and is truncated after `max_steps` steps. Reset observation: 0."""

    def __init__(self, max_steps: int = 3):
        super().__init__(num_agents=2)
        self.agents = ["a", "b"]
        self.max_steps = max_steps
        self.observation_spaces = {a: spaces.Box(0.0, 100.0, (1,)) for a in self.agents}
        self.action_spaces = {a: spaces.Discrete(2) for a in self.agents}

    def _obs(self, step):
        return {a: jnp.full((1,), step, jnp.float32) for a in self.agents}

    def reset(self, key):
        return self._obs(0), State(done=jnp.zeros((), bool), step=jnp.zeros((), jnp.int32))

    def step_env(self, key, state, actions):
        step = state.step + 1
        done = (actions["a"] == 1) | (step >= self.max_steps)
        rewards = {a: jnp.ones(()) for a in self.agents}
        dones = {"a": done, "b": done, "__all__": done}
        return self._obs(step), State(done=done, step=step), rewards, dones, {}


class Uniform(nn.Module):
    """A 'policy' with equal logits over `num_actions` actions."""

    num_actions: int

    @nn.compact
    def __call__(self, hidden, x, first):
        self.param("unused", nn.initializers.zeros, (1,))
        return hidden, jnp.zeros(x.shape[:-1] + (self.num_actions,))


class SumOfInput(nn.Module):
    """A 'critic' whose value is the sum of its input: makes bootstrapping visible."""

    @nn.compact
    def __call__(self, hidden, x, first):
        self.param("unused", nn.initializers.zeros, (1,))
        return hidden, jnp.sum(x, axis=-1)


# ------------------------------------------------------------------ shapes and masks


def test_spread_shapes_homogeneous():
    env = harlax.make_env("MPE_simple_spread_v3")
    state = env.reset(KEY)
    o = state.observation
    assert o.obs.shape == (3, 18) and o.state.shape == (54,) and o.avail.shape == (3, 5)
    assert bool(o.avail.all())
    np.testing.assert_allclose(o.state, o.obs.reshape(-1))  # MPE: concatenated observations
    state, info = env.step(KEY, state, jnp.zeros(3, jnp.int32))
    assert info.reward.shape == (3,)


def test_speaker_listener_is_padded_and_masked():
    env = harlax.make_env("MPE_simple_speaker_listener_v4")
    spec = env.spec
    assert spec.obs_dims == (3, 11) and spec.action_dims == (3, 5) and spec.heterogeneous
    raw_obs, _ = env.env.reset(KEY)
    o = env.reset(KEY).observation
    assert o.obs.shape == (2, 11) and o.avail.shape == (2, 5)
    np.testing.assert_allclose(o.obs[0, :3], raw_obs["speaker_0"])
    np.testing.assert_allclose(o.obs[0, 3:], 0.0)
    np.testing.assert_array_equal(o.avail, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    np.testing.assert_allclose(
        o.state, jnp.concatenate([raw_obs["speaker_0"], raw_obs["listener_0"]])
    )


def test_smax_availability_masks_and_world_state():
    env = harlax.make_env("SMAX", map_name="3m")
    state = env.reset(KEY)
    step = jax.jit(env.step)
    for t in range(3):  # move a little so that the masks are not the reset ones only
        avail = state.observation.avail
        expected = env.env.get_avail_actions(state.env_state)
        for i, agent in enumerate(env.spec.agents):
            np.testing.assert_array_equal(avail[i], np.asarray(expected[agent], bool))
        action = jnp.argmax(avail, axis=-1).astype(jnp.int32)
        state, _ = step(jax.random.PRNGKey(t), state, action)
    raw_obs, _ = env.env.reset(KEY)
    assert env.spec.state_dim == raw_obs["world_state"].size


def _with_health(state, index, env):
    """The adapter state with the SMAX units at `index` at zero health (dead next step)."""
    inner = state.env_state.state
    health = inner.unit_health.at[index].set(0.0)
    return state._replace(
        env_state=state.env_state.replace(state=inner.replace(unit_health=health))
    )


def test_smax_dead_ally_is_inactive_until_the_episode_resets_and_wins_are_reported():
    env = harlax.make_env("SMAX", map_name="3m")
    assert env.spec.active_masks and env.spec.win_signal
    step = jax.jit(env.step)
    state = env.reset(KEY)
    np.testing.assert_array_equal(state.active, [True, True, True])
    noop = jnp.zeros(3, jnp.int32)
    # Ally 0 dies in this step; the episode goes on and ally 0 is inactive from the next.
    state, info = step(jax.random.PRNGKey(1), _with_health(state, 0, env), noop)
    assert not bool(info.terminated | info.truncated) and not bool(info.won)
    np.testing.assert_array_equal(state.active, [False, True, True])
    np.testing.assert_array_equal(state.active, state.env_state.state.unit_alive[:3])
    assert int(state.observation.avail[0].sum()) == 1  # only the no-op is left to it
    state, info = step(jax.random.PRNGKey(2), state, noop)
    np.testing.assert_array_equal(state.active, [False, True, True])
    # All enemies die: a won, terminated episode; the reset state is all active again.
    state, info = step(jax.random.PRNGKey(3), _with_health(state, slice(3, 6), env), noop)
    assert bool(info.terminated) and bool(info.won)
    np.testing.assert_array_equal(state.active, [True, True, True])
    # All allies die: terminated, lost.
    _, info = step(jax.random.PRNGKey(4), _with_health(state, slice(0, 3), env), noop)
    assert bool(info.terminated) and not bool(info.won)


def test_envs_without_deaths_are_all_active_and_never_won():
    env = JaxMARLAdapter(CounterEnv(max_steps=3))
    assert not env.spec.active_masks and not env.spec.win_signal
    state = env.reset(KEY)
    for action in ([0, 0], [1, 0]):
        state, info = env.step(KEY, state, jnp.array(action))
        np.testing.assert_array_equal(state.active, [True, True])
        assert not bool(info.won)


def test_rollout_carries_active_masks_and_wins():
    """DuelEnv: ally_1 is inactive at every episode's second step; playing 1 wins."""
    env = JaxMARLAdapter(DuelEnv())
    assert env.spec.active_masks and env.spec.win_signal
    num_envs, steps = 2, 6
    for favour in (0, 1):
        actor = AgentNet(Constant(favour), 2, True, 1, 0)
        critic = AgentNet(SumOfInput(), 2, True, 1, 0)
        rollout = make_rollout(env, actor, critic, CategoricalHead(), False, steps)
        runner = RunnerState(
            jax.vmap(env.reset)(jax.random.split(KEY, num_envs)),
            jnp.ones(num_envs, bool),
            jnp.zeros((num_envs, 2, 0)),
            jnp.zeros((num_envs, 2, 0)),
        )
        _, tr, _ = rollout(actor.init(KEY), critic.init(KEY), runner, KEY)
        second = np.repeat((np.arange(steps) % 2 == 1)[:, None], num_envs, axis=1)
        assert tr.active.shape == (steps, num_envs, 2) and tr.active.dtype == bool
        np.testing.assert_array_equal(tr.active[..., 0], True)
        np.testing.assert_array_equal(tr.active[..., 1], ~second)
        np.testing.assert_array_equal(tr.episode_done, second)
        np.testing.assert_array_equal(tr.episode_won, second & (favour == 1))


def test_categorical_head_never_samples_unavailable_actions():
    head = CategoricalHead()
    key_logits, key_mask, key_sample = jax.random.split(KEY, 3)
    logits = 3.0 * jax.random.normal(key_logits, (64, 7))
    mask = jax.random.bernoulli(key_mask, 0.4, (64, 7)).at[:, 2].set(True)
    mask = mask.at[:, 5:].set(False)  # padding: actions 5 and 6 do not exist
    samples = jax.jit(jax.vmap(lambda k: head.sample(k, logits, mask)))(
        jax.random.split(key_sample, 500)
    )  # [500, 64]
    picked = jnp.take_along_axis(jnp.broadcast_to(mask, (500, 64, 7)), samples[..., None], -1)
    assert bool(picked.all())
    assert bool(jnp.isfinite(head.entropy(logits, mask)).all())
    assert bool((head.mode(logits, mask) < 5).all())


def test_heads_sample_as_distrax_does():
    """`sample` (the noise apart, then the action from it) draws distrax's own sample from
    the same key, bit for bit, with padded and unavailable actions; logits that are not
    finite give distrax's -1."""
    key_out, key_mask, key_sample = jax.random.split(KEY, 3)
    keys = jax.random.split(key_sample, 200)
    logits = 3.0 * jax.random.normal(key_out, (16, 3, 7))
    mask = jax.random.bernoulli(key_mask, 0.5, (16, 3, 7)).at[..., 0].set(True)
    mask = mask.at[..., 6].set(False).at[0, 0].set(False).at[0, 0, 3].set(True)
    logits = logits.at[1, 2, 4].set(jnp.nan)
    ours = jax.jit(jax.vmap(lambda k: CategoricalHead().sample(k, logits, mask)))(keys)
    reference = jax.jit(
        jax.vmap(lambda k: distrax.Categorical(logits=jnp.where(mask, logits, -1e9)).sample(seed=k))
    )(keys)
    np.testing.assert_array_equal(ours, reference)
    np.testing.assert_array_equal(ours[:, 1, 2], -1)
    np.testing.assert_array_equal(ours[:, 0, 0], 3)

    out = jax.random.normal(key_out, (16, 3, 10))
    dims = jnp.arange(5) < 4  # one padded dimension
    ours = jax.jit(jax.vmap(lambda k: GaussianHead().sample(k, out, dims)))(keys)
    mean, log_std = out[..., :5], out[..., 5:]
    reference = jax.jit(jax.vmap(lambda k: distrax.Normal(mean, jnp.exp(log_std)).sample(seed=k)))(
        keys
    )
    np.testing.assert_allclose(ours[..., :4], reference[..., :4], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(ours[..., 4], 0.0)


def test_gaussian_padded_log_prob_equals_unpadded():
    head = GaussianHead()
    real, padded = 3, 5
    mean = jnp.array([0.1, -0.4, 1.2, 9.0, -9.0])
    log_std = jnp.array([-0.5, 0.0, 0.3, 2.0, -3.0])
    action = jnp.array([0.3, -1.0, 0.7, 123.0, -55.0])  # padded entries are garbage
    mask = jnp.arange(padded) < real
    out = jnp.concatenate([mean, log_std])
    direct = distrax.MultivariateNormalDiag(mean[:real], jnp.exp(log_std[:real])).log_prob(
        action[:real]
    )
    np.testing.assert_allclose(head.log_prob(out, mask, action), direct, rtol=1e-6)
    direct_entropy = distrax.MultivariateNormalDiag(mean[:real], jnp.exp(log_std[:real])).entropy()
    np.testing.assert_allclose(head.entropy(out, mask), direct_entropy, rtol=1e-6)
    other = out.at[real:padded].add(3.0).at[padded + real :].add(1.0)  # change padded dims only
    np.testing.assert_allclose(head.kl(out, other, mask), 0.0, atol=1e-7)


def test_continuous_mpe_actions_are_clipped_to_bounds():
    env = harlax.make_env("MPE_simple_spread_v3", action_type="Continuous")
    assert not env.spec.discrete and env.spec.action_dim == 5
    raw = env._unstack_actions(jnp.full((3, 5), 7.0))
    np.testing.assert_allclose(raw["agent_0"], np.asarray(env.spec.action_high))


# ------------------------------------------------------------------ episode ends


def test_counter_env_termination_and_truncation():
    env = JaxMARLAdapter(CounterEnv(max_steps=3))
    state = env.reset(KEY)
    state, info = env.step(KEY, state, jnp.array([1, 0]))  # agent 0 ends the episode
    assert bool(info.terminated) and not bool(info.truncated)
    assert int(info.episode_length) == 1
    for _ in range(3):
        state, info = env.step(KEY, state, jnp.array([0, 0]))
    assert bool(info.truncated) and not bool(info.terminated)
    np.testing.assert_allclose(info.final.obs, 3.0)  # the true last observation
    np.testing.assert_allclose(state.observation.obs, 0.0)  # already reset
    np.testing.assert_allclose(info.episode_return, 3.0)


def test_mpe_time_limit_is_truncation_with_the_final_observation():
    """JaxMARL's MPE compares its step counter with max_steps before incrementing it,
    so an episode lasts max_steps + 1 steps; its end is a truncation, never a
    termination, and the final observation is not the reset one."""
    env = harlax.make_env("MPE_simple_spread_v3")
    step = jax.jit(env.step)
    state = env.reset(KEY)
    length = env.spec.max_steps + 1
    for t in range(length):
        state, info = step(jax.random.PRNGKey(t + 1), state, jnp.zeros(3, jnp.int32))
        assert bool(info.truncated) == (t == length - 1)
        assert not bool(info.terminated)
    assert int(info.episode_length) == length
    assert not np.allclose(info.final.obs, state.observation.obs)


@pytest.mark.parametrize("favour", [0, 1])
@pytest.mark.parametrize("critic_hidden", [0, 2])
def test_rollout_bootstraps_from_the_final_observation(favour, critic_hidden):
    """favour=0: every episode is truncated at step 3 and its bootstrap value is the
    value of the final observation (3 per agent), not of the reset one (0).
    favour=1: every episode terminates at once. critic_hidden=0: a feed-forward critic,
    evaluated after the time scan; 2: a recurrent one, evaluated inside it."""
    env = JaxMARLAdapter(CounterEnv(max_steps=3))
    actor = AgentNet(Constant(favour), 2, True, 1, 0)
    critic = AgentNet(SumOfInput(), 2, True, 1, critic_hidden)
    num_envs, steps = 2, 7
    rollout = make_rollout(env, actor, critic, CategoricalHead(), central=False, num_steps=steps)
    runner = RunnerState(
        jax.vmap(env.reset)(jax.random.split(KEY, num_envs)),
        jnp.ones(num_envs, bool),
        jnp.zeros((num_envs, 2, 0)),
        jnp.zeros((num_envs, 2, critic_hidden)),
    )
    params = actor.init(KEY), critic.init(KEY)
    _, tr, last_value = rollout(params[0], params[1], runner, KEY)
    # SumOfInput with the shared one-hot id appended adds 1 to the observation sum.
    obs_value = tr.obs.obs[..., 0] + 1.0
    np.testing.assert_allclose(tr.value, obs_value)
    if favour == 0:
        expected_trunc = (np.arange(steps) % 3 == 2)[:, None] * np.ones(num_envs, bool)
        np.testing.assert_array_equal(tr.truncated, expected_trunc)
        assert not bool(tr.terminated.any())
        np.testing.assert_allclose(tr.bootstrap_value[tr.truncated], 3.0 + 1.0)
        np.testing.assert_allclose(tr.value[1:][tr.truncated[:-1]], 0.0 + 1.0)
    else:
        assert bool(tr.terminated.all()) and not bool(tr.truncated.any())
        np.testing.assert_array_equal(tr.first[1:], True)


@pytest.mark.parametrize("hoisted", [True, False])
def test_rollout_draws_the_keys_and_resets_env_step_would(monkeypatch, hoisted):
    """The rollout draws every step's keys (and, within its memory budget, the reset
    states) before its time scan. Its episodes are those of stepping `env.step` one step
    at a time with the keys the scan documents: step t's key `split(key, T)[t]` gives the
    action key and the environments' key, split into one key per environment."""
    import harlax.rollout as rollout_module

    if not hoisted:
        monkeypatch.setattr(rollout_module, "HOISTED_RESET_BYTES", 0)
    env = harlax.make_env("MPE_simple_spread_v3")
    num_envs, steps = 3, 60  # episodes of 25 steps: two resets per environment
    actor = AgentNet(Uniform(env.spec.action_dim), 3, True, env.spec.obs_dim, 0)
    critic = AgentNet(SumOfInput(), 3, True, env.spec.obs_dim, 0)
    rollout = make_rollout(env, actor, critic, CategoricalHead(), central=False, num_steps=steps)
    state = jax.vmap(env.reset)(jax.random.split(KEY, num_envs))
    runner = RunnerState(
        state, jnp.ones(num_envs, bool), jnp.zeros((num_envs, 3, 0)), jnp.zeros((num_envs, 3, 0))
    )
    key = jax.random.PRNGKey(7)
    _, tr, _ = jax.jit(rollout)(actor.init(KEY), critic.init(KEY), runner, key)
    assert int(tr.episode_done.sum()) == 2 * num_envs

    step = jax.jit(jax.vmap(env.step))
    sample = jax.jit(CategoricalHead().sample)
    logits = jnp.zeros((num_envs, 3, env.spec.action_dim))  # the Uniform actor's output
    for t, step_key in enumerate(jax.random.split(key, steps)):
        # Equal up to float rounding: the scan batches the physics differently; a wrong
        # reset key would place the landmarks elsewhere entirely.
        np.testing.assert_allclose(tr.obs.obs[t], state.observation.obs, atol=1e-5)
        key_act, key_env = jax.random.split(step_key)
        # The action noise drawn before the scan is the step's own sample's.
        np.testing.assert_array_equal(
            tr.action[t], sample(key_act, logits, state.observation.avail)
        )
        state, info = step(jax.random.split(key_env, num_envs), state, tr.action[t])
        np.testing.assert_allclose(tr.reward[t], info.reward, atol=1e-5)
        np.testing.assert_array_equal(tr.truncated[t], info.truncated)
