"""The Gymnasium MuJoCo v5 tasks under MaMuJoCo, as parameters and pure JAX functions.

Mirrors ``gymnasium`` 1.x ``envs/mujoco/*_v5.py`` (what the reference
``gymnasium_robotics`` ``mamujoco_v1`` builds its scenarios on): reward
weights, control and contact costs, healthy checks (termination), reset noise
and the single-agent observation (the MaMuJoCo global state). Parameter names
are the v5 keyword arguments.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from harlax.envs.mamujoco_graphs import Feature, features
from harlax.envs.mamujoco_layout import ModelInfo

Range = tuple[float, float]


@dataclasses.dataclass(frozen=True)
class TaskParams:
    """Settings of one Gymnasium v5 MuJoCo task.

    Attributes:
        xml_file: Model file in ``gymnasium/envs/mujoco/assets``.
        frame_skip: MuJoCo steps per environment step.
        max_steps: Episode length of the registered task (``max_episode_steps``).
        x_source: How the forward position is measured: ``"qpos"`` (``qpos[0]``),
            ``"torso"`` (``xpos[1, 0]``), ``"mass_center"`` (mass-weighted ``xipos``
            x) or ``"none"`` (no forward reward).
        forward_reward_weight: Weight of the forward velocity.
        ctrl_cost_weight: Weight of ``sum(action**2)``.
        healthy_reward: Reward per step while healthy.
        terminate_when_unhealthy: Whether leaving the healthy set terminates.
        healthy_z_index: ``qpos`` index of the height checked for health, or ``None``
            (task never terminates).
        healthy_z_range: Healthy height range.
        healthy_z_inclusive: Whether the height bounds are inclusive (Ant) or strict.
        healthy_angle_range: Strict range of ``qpos[healthy_z_index + 1]`` (planar tasks).
        healthy_state_range: Strict range of ``concat(qpos, qvel)[2:]`` (Hopper).
        healthy_finite: Whether non-finite ``qpos``/``qvel`` is unhealthy (Ant).
        contact_cost_weight: Weight of ``sum(cfrc_ext**2)``.
        contact_force_range: Clip of ``cfrc_ext`` before the cost and in the
            observation (Ant), or ``None``.
        contact_cost_range: Clip of the contact cost (Humanoid), or ``None``.
        reward_dist_weight: Weight of the fingertip-target distance (Reacher).
        reset_noise_scale: Scale of the ``qpos`` (and ``qvel``) reset noise.
        reset_qvel_noise: ``"uniform"`` (in ``+-scale``) or ``"normal"`` (std ``scale``).
        reset_qvel_noise_scale: Scale of the ``qvel`` noise if different (Reacher).
        goal_radius: Reacher: the last two ``qpos`` (target) are drawn uniformly in
            the disc of this radius and their velocity is zero; ``None`` otherwise.
        tunable: Keyword arguments of the v5 task a user may override.
    """

    xml_file: str
    frame_skip: int
    max_steps: int = 1000
    x_source: str = "qpos"
    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 0.0
    healthy_reward: float = 0.0
    terminate_when_unhealthy: bool = False
    healthy_z_index: int | None = None
    healthy_z_range: Range = (-math.inf, math.inf)
    healthy_z_inclusive: bool = False
    healthy_angle_range: Range | None = None
    healthy_state_range: Range | None = None
    healthy_finite: bool = False
    contact_cost_weight: float = 0.0
    contact_force_range: Range | None = None
    contact_cost_range: Range | None = None
    reward_dist_weight: float = 0.0
    reset_noise_scale: float = 0.1
    reset_qvel_noise: str = "uniform"
    reset_qvel_noise_scale: float | None = None
    goal_radius: float | None = None
    tunable: tuple[str, ...] = ()


_BASE = ("frame_skip", "forward_reward_weight", "ctrl_cost_weight", "reset_noise_scale")
_HEALTH = ("healthy_reward", "terminate_when_unhealthy", "healthy_z_range")

TASKS: dict[str, TaskParams] = {
    "HalfCheetah": TaskParams(
        "half_cheetah.xml", 5, ctrl_cost_weight=0.1, reset_qvel_noise="normal", tunable=_BASE
    ),
    "Ant": TaskParams(
        "ant.xml",
        5,
        x_source="torso",
        ctrl_cost_weight=0.5,
        healthy_reward=1.0,
        terminate_when_unhealthy=True,
        healthy_z_index=2,
        healthy_z_range=(0.2, 1.0),
        healthy_z_inclusive=True,
        healthy_finite=True,
        contact_cost_weight=5e-4,
        contact_force_range=(-1.0, 1.0),
        reset_qvel_noise="normal",
        tunable=_BASE + _HEALTH + ("contact_cost_weight", "contact_force_range"),
    ),
    "Hopper": TaskParams(
        "hopper.xml",
        4,
        ctrl_cost_weight=1e-3,
        healthy_reward=1.0,
        terminate_when_unhealthy=True,
        healthy_z_index=1,
        healthy_z_range=(0.7, math.inf),
        healthy_angle_range=(-0.2, 0.2),
        healthy_state_range=(-100.0, 100.0),
        reset_noise_scale=5e-3,
        tunable=_BASE + _HEALTH + ("healthy_angle_range", "healthy_state_range"),
    ),
    "Walker2d": TaskParams(
        "walker2d_v5.xml",
        4,
        ctrl_cost_weight=1e-3,
        healthy_reward=1.0,
        terminate_when_unhealthy=True,
        healthy_z_index=1,
        healthy_z_range=(0.8, 2.0),
        healthy_angle_range=(-1.0, 1.0),
        reset_noise_scale=5e-3,
        tunable=_BASE + _HEALTH + ("healthy_angle_range",),
    ),
    "Swimmer": TaskParams("swimmer.xml", 4, ctrl_cost_weight=1e-4, tunable=_BASE),
    "Humanoid": TaskParams(
        "humanoid.xml",
        5,
        x_source="mass_center",
        forward_reward_weight=1.25,
        ctrl_cost_weight=0.1,
        healthy_reward=5.0,
        terminate_when_unhealthy=True,
        healthy_z_index=2,
        healthy_z_range=(1.0, 2.0),
        contact_cost_weight=5e-7,
        contact_cost_range=(-math.inf, 10.0),
        reset_noise_scale=1e-2,
        tunable=_BASE + _HEALTH + ("contact_cost_weight", "contact_cost_range"),
    ),
    "Reacher": TaskParams(
        "reacher.xml",
        2,
        max_steps=50,
        x_source="none",
        forward_reward_weight=0.0,
        ctrl_cost_weight=1.0,
        reward_dist_weight=1.0,
        reset_qvel_noise_scale=0.005,
        goal_radius=0.2,
        tunable=("frame_skip", "reward_dist_weight", "ctrl_cost_weight", "reset_noise_scale"),
    ),
}
"""Robot name -> its Gymnasium v5 task with default settings."""

_ALIASES = {"reward_control_weight": "ctrl_cost_weight"}


def task_params(robot: str, **overrides) -> TaskParams:
    """The v5 settings of ``robot`` with keyword overrides (v5 names; Reacher's
    ``reward_control_weight`` is accepted for ``ctrl_cost_weight``).

    Raises:
        TypeError: If an override is not a tunable setting of this task.
    """
    params = TASKS[robot]
    overrides = {_ALIASES.get(k, k): v for k, v in overrides.items()}
    bad = sorted(set(overrides) - set(params.tunable))
    if bad:
        raise TypeError(f"{robot}: unsupported options {bad}; tunable: {list(params.tunable)}")
    return dataclasses.replace(params, **overrides)


def world_state_features(robot: str, params: TaskParams, info: ModelInfo) -> list[Feature]:
    """The v5 single-agent observation (default flags) as features.

    Args:
        robot: Robot name.
        params: Task settings (for Ant's ``contact_force_range``).
        info: Model sizes.
    """
    nq, nv, nb = info.nq, info.nv, info.nbody
    body_rows = lambda name, width: features(name, range(width, nb * width))
    if robot == "Reacher":
        return list(
            features("cos_qpos", range(2))
            + features("sin_qpos", range(2))
            + features("qpos", range(2, nq))
            + features("qvel", range(2))
            + features("fingertip_dist", range(2))
        )
    skip = 2 if robot in ("Ant", "Swimmer", "Humanoid") else 1
    qvel_clip = 10.0 if robot in ("Hopper", "Walker2d") else None
    out = features("qpos", range(skip, nq)) + features("qvel", range(nv), qvel_clip)
    if robot == "Ant":
        low, high = params.contact_force_range
        out += tuple(f._replace(low=low, high=high) for f in body_rows("cfrc_ext", 6))
    if robot == "Humanoid":
        out += body_rows("cinert", 10) + body_rows("cvel", 6)
        out += features("qfrc_actuator", range(6, nv)) + body_rows("cfrc_ext", 6)
    return list(out)


def x_position(params: TaskParams, data, body_mass: jax.Array) -> jax.Array:
    """Forward position used for the forward reward: scalar.

    Args:
        params: Task settings (``x_source``).
        data: ``mjx.Data``.
        body_mass: ``[nbody]`` body masses (for ``"mass_center"``).
    """
    if params.x_source == "qpos":
        return data.qpos[0]
    if params.x_source == "torso":
        return data.xpos[1, 0]
    if params.x_source == "mass_center":
        return jnp.dot(body_mass, data.xipos[:, 0]) / jnp.sum(body_mass)
    return jnp.zeros((), data.qpos.dtype)


def _in_range(x: jax.Array, bounds: Range, inclusive: bool = False) -> jax.Array:
    """Elementwise ``low < x < high`` (or ``<=`` if inclusive), same shape as ``x``."""
    low, high = bounds
    if inclusive:
        return (low <= x) & (x <= high)
    return (low < x) & (x < high)


def is_healthy(params: TaskParams, qpos: jax.Array, qvel: jax.Array) -> jax.Array:
    """The v5 healthy check: scalar bool (always true for tasks without one).

    Args:
        params: Task settings.
        qpos: ``[nq]`` positions.
        qvel: ``[nv]`` velocities.
    """
    z = params.healthy_z_index
    if z is None:
        return jnp.array(True)
    healthy = _in_range(qpos[z], params.healthy_z_range, params.healthy_z_inclusive)
    state = jnp.concatenate([qpos, qvel])
    if params.healthy_angle_range is not None:
        healthy &= _in_range(qpos[z + 1], params.healthy_angle_range)
    if params.healthy_state_range is not None:
        healthy &= jnp.all(_in_range(state[2:], params.healthy_state_range))
    if params.healthy_finite:
        healthy &= jnp.all(jnp.isfinite(state))
    return healthy


def contact_cost(params: TaskParams, cfrc_ext: jax.Array) -> jax.Array:
    """The v5 contact cost: scalar.

    Args:
        params: Task settings.
        cfrc_ext: ``[nbody, 6]`` external contact forces (after ``rne_postconstraint``).
    """
    forces = cfrc_ext
    if params.contact_force_range is not None:
        forces = jnp.clip(forces, *params.contact_force_range)
    cost = params.contact_cost_weight * jnp.sum(jnp.square(forces))
    if params.contact_cost_range is not None:
        cost = jnp.clip(cost, *params.contact_cost_range)
    return cost


def reward(
    params: TaskParams,
    x_velocity: jax.Array,
    healthy: jax.Array,
    action: jax.Array,
    cfrc_ext: jax.Array | None,
    tip_to_target: jax.Array | None,
) -> jax.Array:
    """The v5 reward: forward + healthy - control cost - contact cost - distance: scalar.

    Args:
        params: Task settings.
        x_velocity: Scalar forward velocity over the step.
        healthy: Scalar bool, health after the step.
        action: ``[nu]`` applied action.
        cfrc_ext: ``[nbody, 6]`` contact forces, or ``None`` if the task has no contact cost.
        tip_to_target: ``[3]`` fingertip minus target position (Reacher), else ``None``.
    """
    gains = params.forward_reward_weight * x_velocity + params.healthy_reward * healthy
    costs = params.ctrl_cost_weight * jnp.sum(jnp.square(action))
    if cfrc_ext is not None:
        costs += contact_cost(params, cfrc_ext)
    if tip_to_target is not None:
        costs += params.reward_dist_weight * jnp.linalg.norm(tip_to_target)
    return gains - costs


def sample_initial_state(
    params: TaskParams, key: jax.Array, qpos0: jax.Array, nv: int
) -> tuple[jax.Array, jax.Array]:
    """Draw the v5 reset state (``reset_model``).

    Args:
        params: Task settings.
        key: PRNG key.
        qpos0: ``[nq]`` initial positions of the model.
        nv: Number of degrees of freedom (initial velocity is zero).

    Returns:
        ``(qpos [nq], qvel [nv])``, float32.
    """
    k_pos, k_vel, k_r, k_phi = jax.random.split(key, 4)
    scale = params.reset_noise_scale
    qpos = qpos0 + jax.random.uniform(k_pos, qpos0.shape, minval=-scale, maxval=scale)
    vscale = scale if params.reset_qvel_noise_scale is None else params.reset_qvel_noise_scale
    if params.reset_qvel_noise == "normal":
        qvel = vscale * jax.random.normal(k_vel, (nv,))
    else:
        qvel = jax.random.uniform(k_vel, (nv,), minval=-vscale, maxval=vscale)
    if params.goal_radius is not None:
        # Uniform in the open disc, like the reference's rejection sampling from the square.
        radius = params.goal_radius * jnp.sqrt(jax.random.uniform(k_r))
        phi = jax.random.uniform(k_phi, minval=-jnp.pi, maxval=jnp.pi)
        qpos = qpos.at[-2:].set(radius * jnp.stack([jnp.cos(phi), jnp.sin(phi)]))
        qvel = qvel.at[-2:].set(0.0)
    return qpos, qvel
