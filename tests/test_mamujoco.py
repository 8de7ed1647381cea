"""MaMuJoCo on MJX against the reference, ``gymnasium_robotics.mamujoco_v1`` (CPU MuJoCo).

Tolerances. MJX runs in float32, the reference in float64 (machine epsilons
1.2e-7 vs 2.2e-16). Quantities are compared elementwise as
``|mjx - ref| <= tol * (1 + |ref|)`` (observations, world state, reward);
terminated/truncated flags must agree exactly. Measured maxima (this machine)
in brackets:

* ``FUNCTION_TOL = 2e-5`` [3.4e-6]: observations, world state and reward
  computed by this package from the *reference's own* MuJoCo data before/after
  each step. Only float32 rounding of float64 inputs enters; the largest effect
  is the forward velocity ``(x_after - x_before) / dt``, whose cancellation turns
  a 6e-8 relative error of ``x`` into ~1e-6..1e-5 absolute.
* ``ONE_STEP_TOL = 5e-3`` [1.4e-3, Humanoid; <= 4.1e-5 otherwise] and
  ``ONE_STEP_MEDIAN_TOL = 1e-4`` [3e-5]: one step of MJX physics from the
  reference's state (re-synced every step). A step chains ``frame_skip`` x 4
  RK4 stages, each with a constraint solve; float32 rounding is amplified by the
  stiff soft contacts and joint limits (typically 1e-7..1e-5), and contact forces
  jump where a contact (de)activates. Humanoid is worse because MJX has no PGS
  solver: it solves the reference's constraint problem with Newton.
  ``ONE_STEP_OUTLIERS``: steps allowed above ``ONE_STEP_TOL`` (flags must still
  agree). Humanoid, 1 of 100 [mujoco 4.0.0 / mujoco-mjx 3.17.0]: at step 75 the
  fallen robot's left foot touches its right thigh within the contact margin in
  the last substeps; both simulators find the same contacts at the same distances
  (to 3e-5 m), but the self-contact's force amplifies the float32 differences to
  0.33 relative error in ``cfrc_ext`` (0.05 in ``qvel``, 3e-4 in ``qpos``, 9e-3 in
  the reward). Running the reference with Newton too does not remove it.
* ``FREE_TOL = 2e-3`` over a free-running horizon from the reference's reset
  state: float32 and float64 trajectories separate exponentially once a robot
  tumbles under random actions, so the horizon is where they still agree.
  Measured with mujoco 4.0.0 / mujoco-mjx 3.17.0: HalfCheetah > 1e-3 from step
  30, O(1) by 50 (compared over 20 steps); Ant 7e-5 at step 4, 8e-4 at 6, 2e-3 at
  12, 5e-3 at 13 and O(1) at 14, after a contact event (compared over 10);
  Humanoid <= 1e-3 to step 26, then 1e-3..2e-2 with the same termination step
  (compared over 25); the others stay within 1.3e-4 over all 100 steps. The
  one-step test above is the check of the dynamics on every step.

Compile time dominates this file: every robot's physics is compiled once (one
program covers reset, the function check and both dynamics modes), the
compilations run in parallel threads with XLA's cheap backend settings
(``COMPILER_OPTIONS``: about a third less compile time; the programs run once), and
scenarios sharing a robot reuse the first one's physics and only evaluate their own
observation layout.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

# MaMuJoCo (mujoco, mujoco-mjx, gymnasium) and its reference (gymnasium-robotics).
_EXTRA = "needs the 'test-mujoco' extra: pip install 'harlax[test-mujoco]'"
for _module in ("mujoco", "mujoco.mjx", "gymnasium", "gymnasium_robotics"):
    pytest.importorskip(_module, reason=f"{_module} is not installed; this module {_EXTRA}")

import gymnasium  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from gymnasium_robotics import mamujoco_v1  # noqa: E402
from mujoco import mjx  # noqa: E402

from harlax.envs.mamujoco import SCENARIOS, MaMuJoCo, MaMuJoCoState, make_mamujoco  # noqa: E402
from harlax.envs.mamujoco_graphs import ROBOT_GRAPHS  # noqa: E402

EQUIVALENCE_SCENARIOS = (
    "HalfCheetah-2x3",
    "HalfCheetah-6x1",
    "Ant-2x4",
    "Ant-4x2",
    "Walker2d-2x3",
    "Hopper-3x1",
    "Swimmer-2x1",
    "Humanoid-9|8",
    "Reacher-2x1",
)
STEPS = 100  # steps compared per scenario
MAX_STEPS = 60  # time limit in both implementations, so truncation happens within STEPS
SEED = 3
FUNCTION_TOL = 2e-5
ONE_STEP_TOL = 5e-3
ONE_STEP_MEDIAN_TOL = 1e-4
ONE_STEP_OUTLIERS = {"Humanoid": 1}  # see the module docstring
COMPILER_OPTIONS = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
FREE_TOL = 2e-3
FREE_HORIZON = {"HalfCheetah": 20, "Ant": 10, "Humanoid": 25}  # chaotic; others: all STEPS


@pytest.fixture(autouse=True, scope="module")
def cheap_compiles():
    """XLA's cheapest compilation for this module: every program here runs a few hundred
    steps at most, and MJX physics (RK4 stages unrolled, each with collisions and a
    constraint solve) makes compilation nearly the whole cost of this file."""
    previous = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


def _robot(scenario: str) -> str:
    return scenario.split("-", 1)[0]


def _reference_env(scenario: str, **kwargs):
    robot, agent_conf = scenario.split("-", 1)
    return mamujoco_v1.parallel_env(robot, agent_conf, **kwargs)


def _reference_data(ref):
    return ref.single_agent_env.unwrapped.data


# --------------------------------------------------------------------------- reference runs


@dataclasses.dataclass
class Reference:
    """A reference episode: ``STEPS`` random actions from a seeded reset.

    Attributes:
        actions: ``{agent: [STEPS, act_dim]}`` per-agent actions.
        obs: ``{agent: [STEPS + 1, obs_dim]}`` observations (index 0: reset).
        state: ``[STEPS + 1, state_dim]`` global state.
        reward, terminated, truncated: ``[STEPS]`` (truncated: as in our contract,
            i.e. not when terminated).
        fields: ``{name: [STEPS + 1, ...]}`` float32 copies of the reference's MuJoCo
            data fields ``DATA_FIELDS`` at every step.
    """

    actions: dict
    obs: dict
    state: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    fields: dict


# MuJoCo data fields that restart MJX exactly where the reference is (``qpos``, ``qvel``,
# ``act``, warm start, ``time``) and that observations and rewards read, including the ones a
# step leaves stale (computed at the start of its last substep, e.g. ``xpos``/``xipos``).
DATA_FIELDS = (
    "qpos",
    "qvel",
    "act",
    "qacc_warmstart",
    "time",
    "xpos",
    "xipos",
    "cinert",
    "cvel",
    "qfrc_actuator",
    "cfrc_ext",
)


def _copy_fields(data) -> dict:
    return {name: np.array(getattr(data, name), np.float32) for name in DATA_FIELDS}


def _with_fields(data: mjx.Data, fields: dict) -> mjx.Data:
    """``data`` with ``fields`` replaced (JAX-backend-only fields live in ``data._impl``)."""
    path = lambda name: f"_impl.{name}" if hasattr(data._impl, name) else name
    return data.tree_replace({path(name): value for name, value in fields.items()})


def run_reference(scenario: str) -> Reference:
    """Roll the reference out; the random global actions depend only on the robot."""
    ref = _reference_env(scenario, max_episode_steps=MAX_STEPS)
    obs, _ = ref.reset(seed=SEED)
    model, data = ref.single_agent_env.unwrapped.model, _reference_data(ref)
    low, high = model.actuator_ctrlrange.T
    rng = np.random.default_rng(SEED)
    records = {"obs": [obs], "state": [ref.state()], "fields": [_copy_fields(data)]}
    steps = {"actions": [], "reward": [], "terminated": [], "truncated": []}
    for _ in range(STEPS):
        actions = ref.map_global_action_to_local_actions(rng.uniform(low, high))
        obs, rewards, terms, truncs, _ = ref.step(actions)
        assert len(set(rewards.values())) == 1  # team reward
        records["obs"].append(obs)
        records["state"].append(ref.state())
        records["fields"].append(_copy_fields(data))
        steps["actions"].append(actions)
        steps["reward"].append(rewards["agent_0"])
        steps["terminated"].append(terms["agent_0"])
        steps["truncated"].append(truncs["agent_0"] and not terms["agent_0"])
    agents = ref.possible_agents
    return Reference(
        actions={a: np.stack([x[a] for x in steps["actions"]]) for a in agents},
        obs={a: np.stack([x[a] for x in records["obs"]]) for a in agents},
        state=np.stack(records["state"]),
        reward=np.array(steps["reward"]),
        terminated=np.array(steps["terminated"]),
        truncated=np.array(steps["truncated"]),
        fields=jax.tree.map(lambda *x: np.stack(x), *records["fields"]),
    )


# --------------------------------------------------------------------------- MJX runs


def _step_summary(outputs) -> dict:
    """The compared parts of a ``step_env`` result (all agents' rewards)."""
    obs, state, rewards, dones, infos = outputs
    return {
        "obs": obs,
        "rewards": jnp.stack(list(rewards.values())),
        "terminated": infos["terminated"],
        "truncated": infos["truncated"],
        "done": dones["__all__"],
        "data": state.data,
    }


def _program(env: MaMuJoCo):
    """``f(ref_fields {name: [STEPS + 1, ...]}, actions {agent: [STEPS, a]}, resync bool [STEPS])``.

    Returns ``(reset, functions, dynamics)``:

    * ``reset``: observations and data after ``reset_to`` the reference's initial state;
    * ``functions``: step outputs computed from the reference's data before/after
      each step (no MJX physics);
    * ``dynamics``: ``step_env`` outputs from MJX physics, starting each step from
      the reference's state where ``resync`` is set, else from the previous step.
    """

    def program(ref_fields, actions, resync):
        reset_obs, state = env.reset_to(ref_fields["qpos"][0], ref_fields["qvel"][0])
        reset = {"obs": reset_obs, "data": state.data}
        xs = (
            jnp.arange(STEPS, dtype=jnp.int32),
            jax.tree.map(lambda x: x[:-1], ref_fields),
            jax.tree.map(lambda x: x[1:], ref_fields),
            actions,
            resync,
        )

        def body(carry, x):
            t, before, after, action, sync = x
            before, after = (_with_fields(state.data, f) for f in (before, after))
            ref_state = MaMuJoCoState(done=jnp.array(False), step=t, data=before)
            functions = env.step_outputs(ref_state, after, env.global_action(action))
            start = jax.tree.map(lambda r, c: jnp.where(sync, r, c), ref_state, carry)
            dynamics = env.step_env(jax.random.key(0), start, action)
            return dynamics[1], (_step_summary(functions), _step_summary(dynamics))

        _, (functions, dynamics) = jax.lax.scan(body, state, xs)
        return reset, functions, dynamics

    return jax.jit(program)


@dataclasses.dataclass
class Rollouts:
    """Reference and MJX outputs of one scenario (see :func:`_program`)."""

    env: MaMuJoCo
    ref: Reference
    reset: dict
    functions: dict
    one_step: dict
    free: dict


def _actions(ref: Reference) -> dict:
    return {a: jnp.asarray(x, jnp.float32) for a, x in ref.actions.items()}


def _as_secondary(env: MaMuJoCo, primary: Rollouts, ref: Reference) -> Rollouts:
    """Outputs of a scenario whose robot was simulated for another scenario.

    Physics, reward and termination are the robot's (identical reference inputs);
    only the observation layout differs, so it is evaluated on the primary's data.
    """
    observe = jax.jit(jax.vmap(lambda d: env.get_obs(MaMuJoCoState(done=False, step=0, data=d))))
    relabel = lambda out: out | {"obs": observe(out["data"])}
    one = lambda tree: jax.tree.map(lambda x: x[None], tree)
    reset_obs = jax.tree.map(lambda x: x[0], observe(one(primary.reset["data"])))
    return Rollouts(
        env=env,
        ref=ref,
        reset=primary.reset | {"obs": reset_obs},
        functions=relabel(primary.functions),
        one_step=relabel(primary.one_step),
        free=relabel(primary.free),
    )


@pytest.fixture(scope="module")
def rollouts(cheap_compiles) -> dict[str, Rollouts]:
    """Every equivalence scenario, rolled out in both implementations."""
    refs = {sc: run_reference(sc) for sc in EQUIVALENCE_SCENARIOS}
    envs = {sc: make_mamujoco(sc, max_steps=MAX_STEPS) for sc in EQUIVALENCE_SCENARIOS}
    primaries = {}
    for sc in EQUIVALENCE_SCENARIOS:
        primaries.setdefault(_robot(sc), sc)
    resync = {"one_step": jnp.ones(STEPS, bool), "free": jnp.zeros(STEPS, bool)}
    lowered = {
        sc: _program(envs[sc]).lower(refs[sc].fields, _actions(refs[sc]), resync["free"])
        for sc in primaries.values()
    }
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        compiled = pool.map(lambda low: low.compile(COMPILER_OPTIONS), lowered.values())
        compiled = dict(zip(lowered, compiled, strict=True))
    out = {}
    for sc, fn in compiled.items():
        ref = refs[sc]
        (reset, functions, one_step), (_, _, free) = (
            fn(ref.fields, _actions(ref), resync[mode]) for mode in ("one_step", "free")
        )
        out[sc] = Rollouts(envs[sc], ref, reset, functions, one_step, free)
    for sc in EQUIVALENCE_SCENARIOS:
        if sc not in out:
            out[sc] = _as_secondary(envs[sc], out[primaries[_robot(sc)]], refs[sc])
    return out


# --------------------------------------------------------------------------- comparisons


def _relative_error(actual, desired) -> np.ndarray:
    """``|actual - desired| / (1 + |desired|)``, elementwise."""
    desired = np.asarray(desired, np.float64)
    return np.abs(np.asarray(actual, np.float64) - desired) / (1.0 + np.abs(desired))


def _compare_steps(
    run: Rollouts, outputs: dict, tol: float, horizon: int = STEPS, outliers: int = 0
) -> np.ndarray:
    """Assert the first ``horizon`` steps of ``outputs`` match the reference.

    Values must agree within ``tol`` on all but ``outliers`` steps; flags on all steps.

    Returns:
        ``[horizon]`` largest relative error of each step (observations, state, reward).
    """
    ref, env, h = run.ref, run.env, horizon
    errors = [_relative_error(outputs["obs"]["world_state"][:h], ref.state[1 : h + 1])]
    for agent in env.agents:
        errors.append(_relative_error(outputs["obs"][agent][:h], ref.obs[agent][1 : h + 1]))
    rewards = np.asarray(outputs["rewards"][:h])
    assert np.all(rewards == rewards[:, :1]), "team reward differs between agents"
    errors.append(_relative_error(rewards[:, 0], ref.reward[:h])[:, None])
    per_step = np.concatenate(errors, axis=1).max(axis=1)
    worst = np.argsort(per_step)[::-1][outliers]  # the largest error not allowed to exceed
    assert per_step[worst] <= tol, f"step {worst + 1}: relative error {per_step[worst]:.2e}"
    np.testing.assert_array_equal(outputs["terminated"][:h], ref.terminated[:h])
    np.testing.assert_array_equal(outputs["truncated"][:h], ref.truncated[:h])
    np.testing.assert_array_equal(outputs["done"][:h], ref.terminated[:h] | ref.truncated[:h])
    return per_step


@pytest.mark.slow
@pytest.mark.parametrize("scenario", EQUIVALENCE_SCENARIOS)
def test_reset_observation_matches_reference(rollouts, scenario):
    run = rollouts[scenario]
    for agent in run.env.agents:
        np.testing.assert_allclose(
            run.reset["obs"][agent], run.ref.obs[agent][0], rtol=FUNCTION_TOL, atol=FUNCTION_TOL
        )
    np.testing.assert_allclose(
        run.reset["obs"]["world_state"], run.ref.state[0], rtol=FUNCTION_TOL, atol=FUNCTION_TOL
    )


@pytest.mark.slow
@pytest.mark.parametrize("scenario", EQUIVALENCE_SCENARIOS)
def test_step_functions_match_reference(rollouts, scenario):
    """Observations, reward and flags from the reference's own physics, all steps."""
    run = rollouts[scenario]
    _compare_steps(run, run.functions, FUNCTION_TOL)
    assert np.all((run.ref.truncated | run.ref.terminated)[MAX_STEPS - 1 :])  # in the window


@pytest.mark.slow
@pytest.mark.parametrize("scenario", EQUIVALENCE_SCENARIOS)
def test_one_step_dynamics_match_reference(rollouts, scenario):
    """MJX physics re-synced to the reference state before every step."""
    run = rollouts[scenario]
    outliers = ONE_STEP_OUTLIERS.get(_robot(scenario), 0)
    per_step = _compare_steps(run, run.one_step, ONE_STEP_TOL, outliers=outliers)
    assert np.median(per_step) <= ONE_STEP_MEDIAN_TOL


@pytest.mark.slow
@pytest.mark.parametrize("scenario", EQUIVALENCE_SCENARIOS)
def test_free_running_matches_reference(rollouts, scenario):
    """MJX physics from the reference's reset state, without re-syncing."""
    run = rollouts[scenario]
    _compare_steps(run, run.free, FREE_TOL, FREE_HORIZON.get(_robot(scenario), STEPS))


# --------------------------------------------------------------------------- partitions


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("agent_obsk", [0, 1, 2])
@pytest.mark.parametrize("global_categories", [None, ("qvel", "cfrc_ext")])
def test_partition_and_observation_layout(scenario, agent_obsk, global_categories):
    """Actuators per agent and observation composition equal the reference's (exactly)."""
    kwargs = {"agent_obsk": agent_obsk, "global_categories": global_categories}
    ref = _reference_env(scenario, **kwargs)
    env = make_mamujoco(scenario, **kwargs)
    ref.reset(seed=SEED)
    rng = np.random.default_rng(SEED)
    for _ in range(3):  # a state with non-trivial velocities and contact forces
        ref.step({a: rng.uniform(-1, 1, ref.action_space(a).shape) for a in ref.agents})

    assert env.agents == ref.possible_agents
    local = {a: rng.uniform(-1, 1, ref.action_space(a).shape) for a in env.agents}
    np.testing.assert_allclose(
        env.global_action(local), ref.map_local_actions_to_global_action(local), rtol=1e-6
    )
    *agent_obs, world_state = env.layout.apply(_reference_data(ref))  # NumPy, float64
    for i, agent in enumerate(env.agents):
        partition = ref.agent_action_partitions[i]
        assert env.act_ids[i] == tuple(node.act_ids for node in partition)
        assert env.action_space(agent).shape == ref.action_space(agent).shape
        np.testing.assert_array_equal(env.action_space(agent).low, ref.action_space(agent).low)
        np.testing.assert_array_equal(env.action_space(agent).high, ref.action_space(agent).high)
        assert env.observation_space(agent).shape == ref.observation_space(agent).shape
        np.testing.assert_array_equal(agent_obs[i], ref._get_obs_agent(i))
    np.testing.assert_array_equal(world_state, ref.state())
    assert env.world_state_space().shape == ref.state().shape


def test_scenarios_and_factory():
    assert set(EQUIVALENCE_SCENARIOS) <= set(SCENARIOS)
    with pytest.raises(ValueError, match="HalfCheetah-6x1"):
        make_mamujoco("HalfCheetah-7x1")
    with pytest.raises(TypeError, match="healthy_z_range"):
        make_mamujoco("HalfCheetah-6x1", healthy_z_range=(0.0, 1.0))
    env = make_mamujoco("Ant-4x2", agent_obsk=0, ctrl_cost_weight=0.0, max_steps=7)
    assert env.num_agents == 4 and env.max_steps == 7 and env.params.ctrl_cost_weight == 0.0


@pytest.mark.parametrize("robot", ROBOT_GRAPHS)
def test_default_episode_length_is_gymnasium(robot):
    conf = next(iter(ROBOT_GRAPHS[robot].partitions))
    assert MaMuJoCo(robot, conf).max_steps == gymnasium.spec(f"{robot}-v5").max_episode_steps


# --------------------------------------------------------------------------- resets

RESETS = 2000


@pytest.mark.parametrize("robot", ROBOT_GRAPHS)
def test_reset_distribution_matches_reference(robot):
    """Mean and spread of reset ``qpos``/``qvel`` agree within sampling error.

    With ``n`` samples per side the difference of two sample means has standard
    error ``sigma * sqrt(2 / n)`` and that of two sample standard deviations at most
    ``0.64 sigma / sqrt(n)`` (uniform noise; normal: 0.5); both are checked at ~5
    standard errors, and coordinates without noise must match exactly.
    """
    env = MaMuJoCo(robot, next(iter(ROBOT_GRAPHS[robot].partitions)))
    keys = jax.random.split(jax.random.key(SEED), RESETS)
    qpos, qvel = jax.jit(jax.vmap(env.sample_initial_state))(keys)
    ours = np.concatenate([qpos, qvel], axis=1).astype(np.float64)

    ref_env = gymnasium.make(f"{robot}-v5").unwrapped
    ref_env.reset(seed=SEED)
    theirs = []
    for _ in range(RESETS):
        ref_env.reset()
        theirs.append(np.concatenate([ref_env.data.qpos, ref_env.data.qvel]))
    theirs = np.array(theirs)

    sigma = theirs.std(axis=0)
    np.testing.assert_array_less(
        np.abs(ours.mean(0) - theirs.mean(0)), 5 * sigma * np.sqrt(2 / RESETS) + 1e-6
    )
    np.testing.assert_array_less(np.abs(ours.std(0) - sigma), 3.5 * sigma / np.sqrt(RESETS) + 1e-6)
    np.testing.assert_array_equal(sigma == 0, ours.std(0) == 0)  # e.g. Reacher's target velocity


# --------------------------------------------------------------------------- batching


@pytest.mark.slow
def test_vmapped_step_auto_resets_on_termination_and_truncation():
    """``jit(vmap(env.step))``: terminated and truncated episodes restart from a reset."""
    env = make_mamujoco("Hopper-3x1", max_steps=5)
    batch, steps = 4, 7
    qpos0 = np.tile(env.mj_model.qpos0, (batch, 1)).astype(np.float32)
    qpos0[:2, 2] = 0.5  # torso pitched beyond the healthy angle: terminates at step 1
    zero_actions = {a: jnp.zeros((batch,) + env.action_space(a).shape) for a in env.agents}

    @jax.jit
    def run(key):
        obs, state = jax.vmap(env.reset_to)(qpos0, jnp.zeros((batch, env.mj_model.nv)))

        def body(state, key):
            obs, state, rewards, dones, infos = jax.vmap(env.step)(
                jax.random.split(key, batch), state, zero_actions
            )
            return state, (dones["__all__"], infos, state.step, state.data.qpos, rewards)

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1]

    done, infos, step, qpos, rewards = jax.tree.map(np.asarray, run(jax.random.key(SEED)))
    terminated, truncated = infos["terminated"], infos["truncated"]
    assert rewards["agent_0"].shape == (steps, batch)
    # Pitched envs: terminate at step 1, restart, then hit the time limit 5 steps later.
    expected_term = np.zeros((steps, batch), bool)
    expected_term[0, :2] = True
    expected_trunc = np.zeros((steps, batch), bool)
    expected_trunc[5, :2] = True
    expected_trunc[4, 2:] = True  # upright envs: time limit at step 5
    np.testing.assert_array_equal(terminated, expected_term)
    np.testing.assert_array_equal(truncated, expected_trunc)
    np.testing.assert_array_equal(done, expected_term | expected_trunc)
    np.testing.assert_array_equal(step[:, :2].T, [[0, 1, 2, 3, 4, 0, 1]] * 2)
    np.testing.assert_array_equal(step[:, 2:].T, [[1, 2, 3, 4, 0, 1, 2]] * 2)
    # After a reset the state is a fresh draw near the initial pose.
    scale = env.params.reset_noise_scale
    assert np.all(np.abs(qpos[0, :2] - env.mj_model.qpos0) <= scale + 1e-6)
    assert np.all(np.abs(qpos[4, 2:] - env.mj_model.qpos0) <= scale + 1e-6)
