"""Adapter: a JaxMARL-style environment (dicts keyed by agent) -> stacked, padded arrays.

The adapter calls the environment's `step_env` (no auto-reset) and resets itself, so the
true final observation of an episode is kept for bootstrapping on truncation.
Episode end is split into termination (no bootstrap) and truncation (time limit).

SMAX (any environment whose state holds `unit_alive`) also reports active masks and wins:
an agent whose per-agent done is set while the episode goes on (a dead unit) is inactive
from the next step until the episode resets (as HARL sets active masks), and an episode is
won when every enemy is dead and some ally alive (when JaxMARL pays the win bonus).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from harlax.envs.spec import MultiAgentSpec
from harlax.types import Array, Observation, StepInfo

WORLD_STATE_KEY = "world_state"


class AdapterState(NamedTuple):
    env_state: Any
    episode_return: Array  # [A] running return of the current episode
    episode_length: Array  # [] int
    observation: Observation  # the current (padded) observation
    active: Array  # [A] bool: the agent acts in the current observation (not dead)


def _space_is_discrete(space: Any) -> bool:
    return hasattr(space, "n")


def _unit_alive(env_state: Any) -> Array | None:
    """SMAX's `[allies + enemies]` alive flags (also inside a wrapper's `.state`), or None."""
    inner = getattr(env_state, "state", env_state)
    return getattr(inner, "unit_alive", None)


def build_spec(env: Any) -> MultiAgentSpec:
    """Read agents, sizes and bounds of a JaxMARL-style environment."""
    agents = tuple(env.agents)
    spaces = [env.action_space(a) for a in agents]
    discrete = {_space_is_discrete(s) for s in spaces}
    if len(discrete) != 1:
        raise ValueError(f"environment mixes discrete and continuous agents: {spaces}")
    is_discrete = discrete.pop()
    obs_dims = tuple(int(np.prod(env.observation_space(a).shape)) for a in agents)
    if is_discrete:
        action_dims = tuple(int(s.n) for s in spaces)
        low, high = (), ()
    else:
        action_dims = tuple(int(np.prod(s.shape)) for s in spaces)
        width = max(action_dims)
        low_rows = [
            np.broadcast_to(np.asarray(s.low, np.float32), (d,))
            for s, d in zip(spaces, action_dims, strict=True)
        ]
        high_rows = [
            np.broadcast_to(np.asarray(s.high, np.float32), (d,))
            for s, d in zip(spaces, action_dims, strict=True)
        ]
        # Padded dimensions take the loosest real bound; they are never sent to the env.
        low = tuple(float(min(r[j] for r in low_rows if j < len(r))) for j in range(width))
        high = tuple(float(max(r[j] for r in high_rows if j < len(r))) for j in range(width))
    # Shapes only: tracing costs milliseconds where running the reset op by op took ~0.3 s.
    obs, env_state = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
    smax = _unit_alive(env_state) is not None and hasattr(env, "num_allies")
    state_dim = (
        int(np.prod(obs[WORLD_STATE_KEY].shape)) if WORLD_STATE_KEY in obs else sum(obs_dims)
    )
    return MultiAgentSpec(
        agents=agents,
        obs_dims=obs_dims,
        action_dims=action_dims,
        discrete=is_discrete,
        state_dim=state_dim,
        max_steps=int(env.max_steps),
        action_low=low,
        action_high=high,
        active_masks=smax,
        win_signal=smax,
    )


class JaxMARLAdapter:
    """Stacked-array view of a JaxMARL-style environment (single, unbatched instance).

    `reset(key) -> AdapterState`; `step(key, state, actions) -> (AdapterState, StepInfo)`,
    with `actions` `[A]` int (discrete) or `[A, U]` float (continuous). Batch with vmap.
    """

    def __init__(self, env: Any, spec: MultiAgentSpec | None = None):
        self.env = env
        self.spec = spec or build_spec(env)
        self._action_mask = jnp.asarray(self.spec.action_mask())
        self._has_avail = self._probe_avail()

    def _probe_avail(self) -> bool:
        try:
            jax.eval_shape(
                lambda key: self.env.get_avail_actions(self.env.reset(key)[1]),
                jax.random.PRNGKey(0),
            )
            return True
        except (NotImplementedError, AttributeError):
            return False

    # ------------------------------------------------------------------ conversion
    def _stack_obs(self, obs: dict[str, Array], env_state: Any) -> Observation:
        spec = self.spec
        rows = [jnp.ravel(obs[a]).astype(jnp.float32) for a in spec.agents]
        padded = jnp.stack([jnp.pad(r, (0, spec.obs_dim - r.shape[0])) for r in rows])
        if WORLD_STATE_KEY in obs:
            state = jnp.ravel(obs[WORLD_STATE_KEY]).astype(jnp.float32)
        else:
            state = jnp.concatenate(rows)
        avail = self._action_mask
        if self._has_avail and spec.discrete:
            env_avail = self.env.get_avail_actions(env_state)
            stacked = jnp.stack(
                [
                    jnp.pad(jnp.asarray(env_avail[a], bool), (0, spec.action_dim - n))
                    for a, n in zip(spec.agents, spec.action_dims, strict=True)
                ]
            )
            avail = avail & stacked
        return Observation(obs=padded, state=state, avail=avail)

    def _unstack_actions(self, actions: Array) -> dict[str, Array]:
        spec = self.spec
        if spec.discrete:
            return {a: actions[i] for i, a in enumerate(spec.agents)}
        low = jnp.asarray(spec.action_low)
        high = jnp.asarray(spec.action_high)
        clipped = jnp.clip(actions, low, high)
        return {a: clipped[i, : spec.action_dims[i]] for i, a in enumerate(spec.agents)}

    def _terminated(self, env_state: Any, done: Array, infos: dict, step_count: Array) -> Array:
        """Whether an ended episode ended in a terminal state (vs. by the time limit)."""
        if "terminated" in infos:
            return jnp.asarray(infos["terminated"], bool)
        alive = _unit_alive(env_state)
        if alive is not None:  # SMAX: a team was wiped out
            num_allies = self.env.num_allies
            return done & (~jnp.any(alive[:num_allies]) | ~jnp.any(alive[num_allies:]))
        return done & (step_count < self.spec.max_steps)

    def _won(self, env_state: Any, done: Array) -> Array:
        """Whether an ended episode was won: SMAX's win (all enemies dead, not all allies)."""
        if not self.spec.win_signal:
            return jnp.zeros((), bool)
        alive = _unit_alive(env_state)
        num_allies = self.env.num_allies
        return done & ~jnp.any(alive[num_allies:]) & jnp.any(alive[:num_allies])

    def _active(self, dones: dict[str, Array]) -> Array:
        """`[A]` bool after a step: False for an agent done while the episode goes on."""
        if not self.spec.active_masks:
            return jnp.ones(self.spec.num_agents, bool)
        return ~jnp.stack([jnp.asarray(dones[a], bool) for a in self.spec.agents])

    # ------------------------------------------------------------------ API
    def reset(self, key: Array) -> AdapterState:
        obs, env_state = self.env.reset(key)
        return AdapterState(
            env_state=env_state,
            episode_return=jnp.zeros(self.spec.num_agents, jnp.float32),
            episode_length=jnp.zeros((), jnp.int32),
            observation=self._stack_obs(obs, env_state),
            active=jnp.ones(self.spec.num_agents, bool),
        )

    def step(
        self, key: Array, state: AdapterState, actions: Array
    ) -> tuple[AdapterState, StepInfo]:
        """One step with auto-reset: `step_from` with the reset state drawn from `key`."""
        key_step, key_reset = self.split_key(key)
        return self.step_from(key_step, state, actions, self.reset(key_reset))

    @staticmethod
    def split_key(key: Array) -> tuple[Array, Array]:
        """`(key_step, key_reset)`: the keys `step(key, ...)` gives the environment's own
        step and the reset. A rollout may draw them (and the resets) before its time scan:
        the reset state depends on nothing but its key."""
        key_step, key_reset = jax.random.split(key)
        return key_step, key_reset

    def step_from(
        self, key_step: Array, state: AdapterState, actions: Array, fresh: AdapterState
    ) -> tuple[AdapterState, StepInfo]:
        """One step; where the episode ends the next state is `fresh` (a `reset` state)."""
        obs, env_state, rewards, dones, infos = self.env.step_env(
            key_step, state.env_state, self._unstack_actions(actions)
        )
        reward = jnp.stack([jnp.asarray(rewards[a], jnp.float32) for a in self.spec.agents])
        final = self._stack_obs(obs, env_state)
        done = jnp.asarray(dones["__all__"], bool)
        length = state.episode_length + 1
        terminated = self._terminated(env_state, done, infos, length)
        if "truncated" in infos:
            truncated = jnp.asarray(infos["truncated"], bool) & ~terminated
        else:
            truncated = done & ~terminated
        episode_return = state.episode_return + reward

        continuing = AdapterState(env_state, episode_return, length, final, self._active(dones))
        next_state = jax.tree.map(lambda r, c: jnp.where(done, r, c), fresh, continuing)
        info = StepInfo(
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            final=final,
            episode_return=jnp.mean(episode_return),
            episode_length=length,
            won=self._won(env_state, done),
        )
        return next_state, info
