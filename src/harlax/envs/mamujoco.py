"""Multi-agent MuJoCo (MaMuJoCo) on MJX, as a JaxMARL environment.

One robot's actuators are split among agents; each agent observes its own
joints and those within ``agent_obsk`` hops in the body graph, plus the
robot's global items. Equal, step for step, to the reference
``gymnasium_robotics.mamujoco_v1`` (PettingZoo, CPU MuJoCo, Gymnasium v5 tasks)
up to float32 arithmetic, with the physics in MJX so that ``reset`` and
``step_env`` are pure and can be jitted and vmapped.

Differences from the reference, by design:

* Humanoid's model asks for the PGS solver, which MJX lacks; MJX uses Newton
  (same constraint problem, same optimum; tiny per-step differences).
* ``infos["truncated"]`` is false when the episode terminates on the last step
  (Gymnasium's ``TimeLimit`` reports both).
* Reset noise has the reference's distribution, not its random stream.

Example::

    env = make_mamujoco("HalfCheetah-6x1")
    obs, state = env.reset(jax.random.key(0))
    actions = {a: env.action_space(a).sample(k) for a, k in zip(env.agents, keys)}
    obs, state, rewards, dones, infos = env.step(key, state, actions)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from importlib import resources

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct
from jaxmarl.environments import spaces
from jaxmarl.environments.multi_agent_env import MultiAgentEnv, State
from mujoco import mjx

from harlax.envs import mamujoco_tasks as tasks
from harlax.envs.mamujoco_graphs import DEFAULT_GLOBAL_CATEGORIES, ROBOT_GRAPHS
from harlax.envs.mamujoco_layout import Layout, ModelInfo, data_field, partition_features
from harlax.envs.mamujoco_mjx import cpu_contact_frames

SCENARIOS: tuple[str, ...] = tuple(
    f"{robot}-{conf}" for robot, graph in ROBOT_GRAPHS.items() for conf in graph.partitions
)
"""Supported scenario names, ``"<Gymnasium robot>-<reference agent_conf>"``."""


@struct.dataclass
class MaMuJoCoState(State):
    """Environment state.

    Attributes:
        done: Scalar bool, whether the last step ended the episode.
        step: Scalar int32, steps taken in the episode.
        data: MJX simulation data (positions, velocities and derived quantities).
    """

    data: mjx.Data


def load_model(xml_file: str) -> mujoco.MjModel:
    """Load a model shipped with Gymnasium (``gymnasium/envs/mujoco/assets``).

    MJX has no PGS solver (Humanoid asks for it); such models use Newton instead.
    """
    path = resources.files("gymnasium") / "envs" / "mujoco" / "assets" / xml_file
    model = mujoco.MjModel.from_xml_path(str(path))
    if model.opt.solver == mujoco.mjtSolver.mjSOL_PGS:
        model.opt.solver = mujoco.mjtSolver.mjSOL_NEWTON
    return model


class MaMuJoCo(MultiAgentEnv):
    """A MaMuJoCo scenario on MJX (JaxMARL ``MultiAgentEnv``).

    Observations are ``{agent: float32 [obs_dim_i], "world_state": float32 [state_dim]}``;
    the world state is the single-agent Gymnasium v5 observation. Rewards are the
    team reward of the v5 task, the same for every agent.
    """

    def __init__(
        self,
        scenario: str,
        agent_conf: str,
        agent_obsk: int = 1,
        local_categories: Sequence[Sequence[str]] | None = None,
        global_categories: Sequence[str] | None = None,
        max_steps: int | None = None,
        **task_kwargs,
    ):
        """Build the scenario.

        Args:
            scenario: Gymnasium robot, e.g. ``"HalfCheetah"`` (reference ``scenario``).
            agent_conf: Partition, e.g. ``"6x1"`` (reference ``agent_conf``).
            agent_obsk: Graph distance up to which agents observe other joints.
            local_categories: Observation categories per distance; default: the reference's.
            global_categories: Categories of the global nodes; default ``("qpos", "qvel")``.
            max_steps: Episode length (truncation); default: the v5 task's (1000; Reacher 50).
            **task_kwargs: v5 task settings (e.g. ``ctrl_cost_weight``, ``reset_noise_scale``,
                ``healthy_z_range``); see :class:`harlax.envs.mamujoco_tasks.TaskParams`.
        """
        graph = ROBOT_GRAPHS.get(scenario)
        if graph is None or agent_conf not in graph.partitions:
            raise ValueError(f"unknown scenario {scenario}-{agent_conf}; valid: {SCENARIOS}")
        self.scenario, self.agent_conf = scenario, agent_conf
        self.params = tasks.task_params(scenario, **task_kwargs)
        self.max_steps = self.params.max_steps if max_steps is None else int(max_steps)

        self.mj_model = load_model(self.params.xml_file)
        self.model = mjx.put_model(self.mj_model)
        self._data0 = mjx.make_data(self.mj_model)
        self.dt = float(self.mj_model.opt.timestep) * self.params.frame_skip
        info = ModelInfo.from_model(self.mj_model)

        act_ids, agent_feats = partition_features(
            graph,
            agent_conf,
            agent_obsk,
            local_categories,
            tuple(global_categories or DEFAULT_GLOBAL_CATEGORIES),
        )
        world = tasks.world_state_features(scenario, self.params, info)
        self.layout = Layout.build([*agent_feats, world], info)
        self.act_ids = act_ids
        # ctrl = concat(agent actions)[ctrl_order]
        self._ctrl_order = np.argsort(np.concatenate(act_ids)).astype(np.int32)

        super().__init__(num_agents=len(act_ids))
        ctrl_range = self.mj_model.actuator_ctrlrange.astype(np.float32)
        for agent, ids, feats in zip(self.agents, act_ids, agent_feats, strict=True):
            low, high = ctrl_range[list(ids), 0], ctrl_range[list(ids), 1]
            self.action_spaces[agent] = spaces.Box(low, high, (len(ids),))
            self.observation_spaces[agent] = spaces.Box(-jnp.inf, jnp.inf, (len(feats),))
        self.world_state_size = len(world)

    # ----------------------------------------------------------------- spaces

    def world_state_space(self) -> spaces.Box:
        """Space of ``obs["world_state"]``: ``(state_dim,)``."""
        return spaces.Box(-jnp.inf, jnp.inf, (self.world_state_size,))

    @property
    def name(self) -> str:
        """Scenario name, e.g. ``"HalfCheetah-6x1"``."""
        return f"{self.scenario}-{self.agent_conf}"

    # -------------------------------------------------------------- transitions

    @partial(jax.jit, static_argnums=(0,))
    def reset(self, key: jax.Array) -> tuple[dict[str, jax.Array], MaMuJoCoState]:
        """Sample the v5 reset state; returns ``(obs, state)``."""
        return self.reset_to(*self.sample_initial_state(key))

    def sample_initial_state(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Draw ``(qpos [nq], qvel [nv])`` from the v5 reset distribution."""
        qpos0 = jnp.asarray(self.mj_model.qpos0, jnp.float32)
        return tasks.sample_initial_state(self.params, key, qpos0, self.mj_model.nv)

    def reset_to(self, qpos: jax.Array, qvel: jax.Array) -> tuple[dict, MaMuJoCoState]:
        """Start an episode from given ``qpos [nq]``, ``qvel [nv]`` (Gymnasium ``set_state``)."""
        qpos, qvel = jnp.asarray(qpos, jnp.float32), jnp.asarray(qvel, jnp.float32)
        # MJX writes normalised quaternions back into qpos; CPU MuJoCo (and so the first
        # observation of the reference) keeps them as given. The dynamics do not care.
        data = mjx.forward(self.model, self._data0.replace(qpos=qpos, qvel=qvel)).replace(qpos=qpos)
        state = MaMuJoCoState(done=jnp.array(False), step=jnp.array(0, jnp.int32), data=data)
        return self.get_obs(state), state

    @partial(jax.jit, static_argnums=(0,))
    def step_env(
        self, key: jax.Array, state: MaMuJoCoState, actions: dict[str, jax.Array]
    ) -> tuple[dict, MaMuJoCoState, dict, dict, dict]:
        """One environment step without auto-reset.

        Args:
            key: Unused (the dynamics are deterministic).
            state: Current state.
            actions: ``{agent: [act_dim_i]}``.

        Returns:
            ``(obs, state, rewards, dones, infos)``; ``rewards[agent]`` is the scalar
            team reward, ``dones`` has every agent and ``"__all__"``, ``infos`` has
            scalar bools ``"terminated"`` and ``"truncated"``.
        """
        del key
        action = self.global_action(actions)
        return self.step_outputs(state, self._simulate(state.data, action), action)

    def step_outputs(
        self, state: MaMuJoCoState, data: mjx.Data, action: jax.Array
    ) -> tuple[dict, MaMuJoCoState, dict, dict, dict]:
        """Everything :meth:`step_env` returns, given the simulated data.

        Args:
            state: State before the step.
            data: MJX data after ``frame_skip`` MuJoCo steps (and ``rne_postconstraint``).
            action: ``[nu]`` applied control.

        Returns:
            ``(obs, state, rewards, dones, infos)`` as :meth:`step_env`.
        """
        team_reward, healthy = self._reward(state.data, data, action)
        terminated = ~healthy if self.params.terminate_when_unhealthy else jnp.array(False)
        step = state.step + 1
        truncated = (step >= self.max_steps) & ~terminated
        done = terminated | truncated
        state = MaMuJoCoState(done=done, step=step, data=data)
        rewards = {agent: team_reward for agent in self.agents}
        dones = {agent: done for agent in self.agents} | {"__all__": done}
        infos = {"terminated": terminated, "truncated": truncated}
        return self.get_obs(state), state, rewards, dones, infos

    def get_obs(self, state: MaMuJoCoState) -> dict[str, jax.Array]:
        """Observations of every agent and ``"world_state"`` from the state's MJX data."""
        *agent_obs, world = self.layout.apply(state.data, jnp)
        return dict(zip(self.agents, agent_obs, strict=True)) | {"world_state": world}

    # ----------------------------------------------------------------- pieces

    def global_action(self, actions: dict[str, jax.Array]) -> jax.Array:
        """Per-agent actions -> control vector ``[nu]`` in actuator order."""
        flat = jnp.concatenate([jnp.asarray(actions[a], jnp.float32) for a in self.agents])
        return flat[self._ctrl_order]

    def _uses_contact_forces(self) -> bool:
        """Whether observations or reward need ``cfrc_ext`` (``rne_postconstraint``)."""
        return "cfrc_ext" in self.layout.sources or self.params.contact_cost_weight != 0

    def _simulate(self, data: mjx.Data, action: jax.Array) -> mjx.Data:
        """``frame_skip`` MuJoCo steps with ``ctrl = action`` (Gymnasium ``do_simulation``)."""
        step = lambda _, d: mjx.step(self.model, d)
        with cpu_contact_frames():
            data = jax.lax.fori_loop(0, self.params.frame_skip, step, data.replace(ctrl=action))
        if self._uses_contact_forces():
            data = mjx.rne_postconstraint(self.model, data)
        return data

    def _reward(
        self, before: mjx.Data, after: mjx.Data, action: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Team reward and health after a step: two scalars (float32, bool)."""
        p, mass = self.params, self.model.body_mass
        x_before, x_after = (tasks.x_position(p, d, mass) for d in (before, after))
        healthy = tasks.is_healthy(p, after.qpos, after.qvel)
        cfrc_ext = data_field(after, "cfrc_ext") if p.contact_cost_weight != 0 else None
        tip = None
        if p.reward_dist_weight != 0:
            tip = after.xpos[self.layout.info.fingertip] - after.xpos[self.layout.info.target]
        team = tasks.reward(p, (x_after - x_before) / self.dt, healthy, action, cfrc_ext, tip)
        return team, healthy


def make_mamujoco(scenario: str, **kwargs) -> MaMuJoCo:
    """Build a scenario by name, e.g. ``make_mamujoco("Humanoid-9|8", agent_obsk=1)``.

    Args:
        scenario: One of :data:`SCENARIOS`.
        **kwargs: Passed to :class:`MaMuJoCo` (``agent_obsk``, ``max_steps``,
            ``global_categories``, v5 task settings, ...).

    Raises:
        ValueError: If the scenario is unknown.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown MaMuJoCo scenario {scenario!r}; valid: {SCENARIOS}")
    robot, agent_conf = scenario.split("-", 1)
    return MaMuJoCo(robot, agent_conf, **kwargs)


# ---------------------------------------------------------------------- registry family
PREFIX = "mamujoco:"  # harlax.envs.registry: names are "mamujoco:<scenario>"


def names() -> list[str]:
    return [PREFIX + s for s in SCENARIOS]


def check(name: str, env_kwargs: dict) -> None:
    """The name is checked by the registry; the scenario's kwargs by `make_mamujoco`."""


def make(name: str, **kwargs) -> MaMuJoCo:
    return make_mamujoco(name[len(PREFIX) :], **kwargs)
