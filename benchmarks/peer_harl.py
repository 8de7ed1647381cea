"""harlax against HARL (PKU-MARL/HARL, PyTorch): HAPPO, MAPPO and HATRPO at HARL's tuned
simple_spread settings, one run, the two implementations interleaved per algorithm.

The peer is HARL's own `examples/train.py` with its tuned configs
`tuned_configs/pettingzoo_mpe/simple_spread_v2-discrete/{happo,mappo,hatrpo}/config.json`.
HARL is not part of this repository: check it out beside the project, install it in its own
virtual environment, and give this script the command that runs `train.py` (`--peer`) and
HARL's checkout (`--peer-dir`, the run's working directory). The script appends
`--load_config <tuned config> --num_env_steps N --use_eval False --cuda False
--torch_threads 2` and reads HARL's FPS lines. Without `--peer`, only harlax is measured.

Settings (both sides): 20 envs x 200 steps = 4000 env steps per update, 5 epochs, 1
minibatch, MLP 128x128 ReLU with feature and layer norm, lr 5e-4, value norm, huber loss;
HAPPO and HATRPO with one actor per agent, MAPPO with a shared actor. harlax runs its
presets `happo`, `mappo_harl`, `hatrpo` (which follow those configs) on JaxMARL's
MPE_simple_spread_v3; HARL runs PettingZoo's simple_spread_v2, whose reward also counts each
agent's collision with itself, so returns differ by a constant: compare speed only.

What is measured:
- HARL: its log prints, every 5 updates, the cumulative FPS since training began (after
  environment creation and the first reset). The steady-state rate is the median over the
  intervals between log lines, the first interval left out; the wall time of the whole
  process (imports, 20 environment subprocesses, model set-up) is reported beside it.
- harlax: all updates as one compiled chunk (like `peer_jaxmarl.py`); compile timed
  separately, the rate excludes it.

    python -m benchmarks.peer_harl --algos happo hatrpo mappo \
        --harl-steps 200000 --harlax-steps 1000000 \
        --peer "/tmp/harl_venv/bin/python /tmp/harl/examples/train.py" --peer-dir /tmp/harl

Writes benchmarks/results/peer_harl.csv.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import time
from pathlib import Path

import harlax
from benchmarks.common import compile_and_run_once, print_row, write_csv
from harlax.train import make_train

# algo -> (HARL tuned config, harlax preset)
ALGOS = {
    "happo": ("happo", "happo"),
    "mappo": ("mappo", "mappo_harl"),
    "hatrpo": ("hatrpo", "hatrpo"),
}
CONFIG_DIR = "tuned_configs/pettingzoo_mpe/simple_spread_v2-discrete"
STEPS_PER_UPDATE = 20 * 200  # n_rollout_threads x episode_length, both sides
FPS_LINE = re.compile(r"total num timesteps (\d+)/\d+, FPS (\d+)\.")


def parse_fps_lines(text: str) -> list[tuple[int, int]]:
    """HARL's log lines `... total num timesteps S/N, FPS F.` -> [(S, F), ...]."""
    return [(int(s), int(f)) for s, f in FPS_LINE.findall(text)]


def steady_rate(points: list[tuple[int, int]]) -> float:
    """Median env-steps/s over the intervals between HARL's log lines, the first interval
    (from the start of training to the first line) left out.

    HARL's FPS is cumulative, `steps / (now - start)`, so line i was printed at
    t_i = S_i / F_i seconds after the start and the interval rate is
    (S_i - S_{i-1}) / (t_i - t_{i-1}). F is truncated to an integer, which moves each t_i
    by under 1/F of itself. With a single line, its own FPS is returned.
    """
    if not points:
        raise ValueError("no FPS lines in HARL's output")
    if len(points) == 1:
        return float(points[0][1])
    times = [s / f for s, f in points]
    rates = [
        (points[i][0] - points[i - 1][0]) / (times[i] - times[i - 1]) for i in range(1, len(points))
    ]
    return statistics.median(rates)


def time_harl(peer: str, peer_dir: str, algo: str, steps: int) -> dict[str, float]:
    """Run HARL's train.py on its tuned config; steady rate, its own FPS, wall time."""
    config = f"{CONFIG_DIR}/{ALGOS[algo][0]}/config.json"
    command = shlex.split(peer) + [
        "--load_config", config,
        "--num_env_steps", str(steps),
        "--use_eval", "False",
        "--cuda", "False",
        "--torch_threads", "2",
        "--exp_name", "peer_harl",
    ]  # fmt: skip
    start = time.perf_counter()
    out = subprocess.run(command, cwd=peer_dir, capture_output=True, text=True)
    wall_s = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"HARL failed ({out.returncode}):\n{out.stderr[-3000:]}")
    points = parse_fps_lines(out.stdout)
    rate = steady_rate(points)
    return {
        "env_steps": points[-1][0],
        "steps_per_s": rate,
        "s_per_update": STEPS_PER_UPDATE / rate,
        "harl_fps_final": float(points[-1][1]),
        "wall_s": wall_s,
    }


def time_harlax(algo: str, steps: int) -> dict[str, float]:
    """Compile and run all updates as one chunk, timed separately."""
    num_updates = max(1, steps // STEPS_PER_UPDATE)
    config = harlax.presets[ALGOS[algo][1]].replace(
        total_steps=num_updates * STEPS_PER_UPDATE,
        num_seeds=1,
        updates_per_chunk=num_updates,
        progress=False,
    )
    assert config.num_envs * config.rollout_length == STEPS_PER_UPDATE
    start_wall = time.perf_counter()
    program = make_train(config)
    compile_s, run_s = compile_and_run_once(program)
    return {
        "env_steps": num_updates * STEPS_PER_UPDATE,
        "steps_per_s": num_updates * STEPS_PER_UPDATE / run_s,
        "s_per_update": run_s / num_updates,
        "compile_s": compile_s,
        "wall_s": time.perf_counter() - start_wall,
    }


def peer_versions(peer: str, peer_dir: str, commit: str | None) -> str:
    """torch / pettingzoo / gymnasium / numpy versions of the peer's Python, HARL's commit."""
    if commit is None:
        git = subprocess.run(
            ["git", "-C", peer_dir, "rev-parse", "HEAD"], capture_output=True, text=True
        )
        commit = git.stdout.strip() if git.returncode == 0 else "unknown"
    code = (
        "import torch, pettingzoo, gymnasium, numpy, supersuit; print("
        "f'torch {torch.__version__}, pettingzoo {pettingzoo.__version__}, gymnasium "
        "{gymnasium.__version__}, numpy {numpy.__version__}, supersuit {supersuit.__version__}')"
    )
    out = subprocess.run(
        [shlex.split(peer)[0], "-c", code], capture_output=True, text=True, cwd=peer_dir
    )
    found = out.stdout.strip() if out.returncode == 0 else "versions unknown"
    return f"HARL {commit}; {found}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


COLUMNS = ["algo", "impl", "env_steps", "steps_per_s", "s_per_update", "compile_s", "wall_s",
           "harl_fps_final", "ratio_vs_harl", "per_update_vs_happo", "load_before",
           "load_after"]  # fmt: skip


def with_ratios(rows: list[dict]) -> list[dict]:
    """Rows under COLUMNS, with ratio_vs_harl (steps_per_s / HARL's for the algo) and
    per_update_vs_happo (s_per_update / the same impl's HAPPO) where both are measured."""
    by = {(r["algo"], r["impl"]): r for r in rows}
    table = []
    for r in rows:
        harl = by.get((r["algo"], "harl"))
        happo = by.get(("happo", r["impl"]))
        r = dict(r)
        r["ratio_vs_harl"] = r["steps_per_s"] / harl["steps_per_s"] if harl else ""
        r["per_update_vs_happo"] = r["s_per_update"] / happo["s_per_update"] if happo else ""
        table.append({c: r.get(c, "") for c in COLUMNS})
    return table


def notes_of(args: argparse.Namespace, versions: str | None, load_start: str) -> list[str]:
    """The CSV header: peer versions, settings, what each column means, load averages."""
    notes = [
        "peer: HARL examples/train.py --load_config "
        f"{CONFIG_DIR}/<algo>/config.json --num_env_steps {args.harl_steps} --use_eval False "
        "--cuda False --torch_threads 2 (torch on 2 threads; 20 env subprocesses)",
        "harlax: presets happo / mappo_harl / hatrpo on MPE_simple_spread_v3, all "
        f"{args.harlax_steps // STEPS_PER_UPDATE} updates as one compiled chunk, 1 seed, "
        "XLA CPU on all cores; steps_per_s and s_per_update exclude compile_s",
        "settings: 20 envs x 200 steps (4000 env steps per update), 5 epochs, 1 minibatch, "
        "MLP 128x128 relu, feature + layer norm, lr 5e-4, value norm, huber 10, clip 0.2 "
        "(HATRPO: kl 0.005, 10 CG iters, 10 line-search steps); no lr annealing; critic "
        "V(s) once per env step on the agents' summed reward (HARL's EP state; harlax "
        f"team_critic={harlax.presets['happo'].team_critic!r})",
        "HARL steps_per_s: median rate between its FPS log lines (every 5 updates), first "
        "interval dropped; harl_fps_final: its last cumulative FPS (from the start of "
        "training, after env creation); wall_s: the whole process",
        "ratio_vs_harl: steps_per_s / HARL's for the algo; per_update_vs_happo: "
        "s_per_update / the same impl's HAPPO",
        "returns are not compared: HARL's PettingZoo simple_spread_v2 counts self-collisions "
        "(returns differ by a constant); speed only",
        f"load average (1, 5, 15 min) at start: {load_start}; at end: {load()} "
        "(HARL's 20 environment subprocesses count in it)",
    ]
    return ([versions] if versions else []) + notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    parser.add_argument("--harl-steps", type=int, default=200_000)
    parser.add_argument("--harlax-steps", type=int, default=2_000_000)
    parser.add_argument("--peer", default=None, help="command that runs HARL's train.py")
    parser.add_argument("--peer-dir", default=None, help="HARL's checkout (working dir)")
    parser.add_argument("--harl-commit", default=None, help="if --peer-dir is no git tree")
    parser.add_argument("--out", default="peer_harl", help="CSV name under results/")
    args = parser.parse_args()
    if args.peer and not args.peer_dir:
        args.peer_dir = str(Path(shlex.split(args.peer)[-1]).resolve().parents[1])
    load_start = load()
    versions = peer_versions(args.peer, args.peer_dir, args.harl_commit) if args.peer else None
    rows = []
    for algo in args.algos:
        for impl in ["harl", "harlax"] if args.peer else ["harlax"]:
            before = load()
            if impl == "harl":
                result = time_harl(args.peer, args.peer_dir, algo, args.harl_steps)
            else:
                result = time_harlax(algo, args.harlax_steps)
            row = {"algo": algo, "impl": impl, **result, "load_before": before}
            row["load_after"] = load()
            rows.append(row)
            print_row(row)
            # Written after every run, so that a stopped measurement leaves its rows.
            path = write_csv(args.out, with_ratios(rows), notes_of(args, versions, load_start))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
