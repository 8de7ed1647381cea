"""Env-steps per second of MaMuJoCo scenarios: harlax on MJX vs the CPU reference (and MABrax).

For every scenario and batch size, a ``jit``-compiled ``lax.scan`` of ``--steps`` steps of
``vmap(env.step)`` (JaxMARL auto-reset, uniform random actions) is timed after compilation
(``--repeats`` runs, the best one kept); compile time is reported separately. The reference,
``gymnasium_robotics.mamujoco_v1`` (CPU MuJoCo, one process, one environment), is stepped
``--reference-steps`` times with random actions, resetting at episode ends. Where JaxMARL has
a MABrax version of a scenario and it runs, it is timed like harlax's. One CSV row per
(scenario, implementation, num_envs); ``speedup_vs_reference`` is the ratio of env-steps per
second to the reference's, ``speedup_vs_mabrax`` harlax's ratio to MABrax at the same size.

Usage (the full run; the lead's figures)::

    PYTHONPATH=src python benchmarks/mamujoco_env_speed.py

Small check::

    PYTHONPATH=src python benchmarks/mamujoco_env_speed.py --scenarios HalfCheetah-6x1 \\
        --num-envs 8 --steps 10 --reference-steps 200 --out /tmp/speed.csv
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import io
import os
import platform
import time
import warnings
from importlib import metadata
from pathlib import Path

import jax
import numpy as np

from harlax.envs.mamujoco import SCENARIOS

MABRAX = {
    "HalfCheetah-6x1": "halfcheetah_6x1",
    "Ant-4x2": "ant_4x2",
    "Hopper-3x1": "hopper_3x1",
    "Walker2d-2x3": "walker2d_2x3",
    "Humanoid-9|8": "humanoid_9|8",
}
"""Scenario -> JaxMARL's MABrax name (same robot and partition)."""

FIELDS = (
    "scenario",
    "impl",
    "num_envs",
    "steps_per_s",
    "compile_s",
    "speedup_vs_reference",
    "speedup_vs_mabrax",
)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _random_actions(env, key: jax.Array, num_envs: int) -> dict:
    """``{agent: [num_envs, act_dim]}`` uniform in each agent's action box."""
    out = {}
    for agent, k in zip(env.agents, jax.random.split(key, len(env.agents)), strict=True):
        space = env.action_space(agent)
        out[agent] = jax.random.uniform(
            k, (num_envs, *space.shape), minval=space.low, maxval=space.high
        )
    return out


def time_jax_env(env, num_envs: int, steps: int, repeats: int) -> tuple[float, float]:
    """``(env-steps per second, compile seconds)`` of ``steps`` batched auto-reset steps."""

    def rollout(key):
        key, reset_key = jax.random.split(key)
        _, state = jax.vmap(env.reset)(jax.random.split(reset_key, num_envs))

        def body(state, key):
            act_key, step_key = jax.random.split(key)
            actions = _random_actions(env, act_key, num_envs)
            _, state, rewards, _, _ = jax.vmap(env.step)(
                jax.random.split(step_key, num_envs), state, actions
            )
            return state, rewards[env.agents[0]].sum()

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1].sum()

    start = time.perf_counter()
    program = jax.jit(rollout).lower(jax.random.key(0)).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(program(jax.random.key(1)))  # warm-up
    best = np.inf
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(program(jax.random.key(2 + i)))
        best = min(best, time.perf_counter() - start)
    # The reset inside the program is one batched forward pass, negligible next to ``steps``.
    return num_envs * steps / best, compile_s


def time_reference(scenario: str, steps: int, seed: int = 0) -> float:
    """Env-steps per second of ``mamujoco_v1`` (one process, one environment)."""
    from gymnasium_robotics import mamujoco_v1

    robot, conf = scenario.split("-", 1)
    env = mamujoco_v1.parallel_env(robot, conf)
    rng = np.random.default_rng(seed)
    spaces = {a: env.action_space(a) for a in env.possible_agents}
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        actions = {a: rng.uniform(s.low, s.high).astype(s.dtype) for a, s in spaces.items()}
        _, _, terms, truncs, _ = env.step(actions)
        if any(terms.values()) or any(truncs.values()):
            env.reset()
    return steps / (time.perf_counter() - start)


def make_mabrax(name: str):
    """JaxMARL's MABrax environment, or ``None`` if it does not build here."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import jaxmarl

            return jaxmarl.make(name)
    except Exception as err:  # noqa: BLE001 - deprecated upstream; any failure means "absent"
        print(f"MABrax {name}: unavailable ({type(err).__name__}: {err})")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--num-envs", nargs="+", type=int, default=[64, 256, 1024])
    parser.add_argument("--steps", type=int, default=100, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (best kept)")
    parser.add_argument("--reference-steps", type=int, default=5000)
    parser.add_argument("--no-mabrax", action="store_true", help="skip JaxMARL's MABrax")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/mamujoco_env_speed.csv")
    )
    args = parser.parse_args()

    from harlax.envs.mamujoco import make_mamujoco

    device = jax.devices()[0]
    header = [
        f"date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"machine: {platform.node()} {platform.machine()} {platform.processor() or ''} "
        f"cpus={os.cpu_count()} load_avg_1min={os.getloadavg()[0]:.2f}",
        f"device: {device.platform} {device.device_kind}",
        "versions: "
        + " ".join(
            f"{p}={_version(p)}"
            for p in ("jax", "mujoco", "mujoco-mjx", "gymnasium-robotics", "jaxmarl", "brax")
        ),
        f"settings: steps={args.steps} repeats={args.repeats} (best) "
        f"reference_steps={args.reference_steps} actions=uniform random; "
        "jax rows: jit(scan(vmap(env.step))) with auto-reset; reference: one process",
    ]
    rows = []

    def write() -> None:
        """The CSV of the scenarios done so far (a stopped run keeps its results)."""
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", newline="") as f:
            f.writelines(f"# {line}\n" for line in header)
            writer = csv.writer(f)
            writer.writerow(FIELDS)
            for row in rows:
                writer.writerow(
                    [f"{x:.4g}" if isinstance(x, float) else x for x in row]  # compact numbers
                )

    for scenario in args.scenarios:
        ref_speed = time_reference(scenario, args.reference_steps)
        rows.append([scenario, "reference", 1, ref_speed, 0.0, 1.0, ""])
        print(f"{scenario:16s} reference      1 envs {ref_speed:12.0f} steps/s")
        env = make_mamujoco(scenario)
        mabrax = None
        if not args.no_mabrax and scenario in MABRAX:
            mabrax = make_mabrax(MABRAX[scenario])
        for n in args.num_envs:
            speed, compile_s = time_jax_env(env, n, args.steps, args.repeats)
            mabrax_speed = None
            if mabrax is not None:
                mabrax_speed, mabrax_compile = time_jax_env(mabrax, n, args.steps, args.repeats)
                rows.append(
                    [
                        scenario,
                        "mabrax",
                        n,
                        mabrax_speed,
                        mabrax_compile,
                        mabrax_speed / ref_speed,
                        "",
                    ]
                )
            rows.append(
                [
                    scenario,
                    "harlax_mjx",
                    n,
                    speed,
                    compile_s,
                    speed / ref_speed,
                    "" if mabrax_speed is None else speed / mabrax_speed,
                ]
            )
            extra = "" if mabrax_speed is None else f"  mabrax {mabrax_speed:10.0f} steps/s"
            print(
                f"{scenario:16s} harlax_mjx {n:5d} envs {speed:12.0f} steps/s "
                f"(compile {compile_s:.1f} s){extra}"
            )
        write()

    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
