"""harlax against JaxMARL's own baselines (IPPO, recurrent MAPPO), identical settings, one run.

The peers are JaxMARL's `baselines/IPPO/ippo_ff_mpe.py` (`--algo ippo_ff`) and
`baselines/MAPPO/mappo_rnn_mpe.py` (`--algo mappo_rnn`) from FLAIROx/JaxMARL; they are not
part of the `jaxmarl` pip package, and their code is not part of this repository: check
JaxMARL out beside the project and give this script a command that runs a baseline as
`PEER NUM_ENVS TOTAL_STEPS NUM_SEEDS`, printing one JSON line with `compile_s`, `run_s`.
`benchmarks/jaxmarl_peer.py` is such a command: it runs the baseline file as it is on disk,
without its hydra entry point and per-update wandb callback. Without `--peer`, only harlax
is measured.

Settings are the peer's MPE config (see PEERS): MPE_simple_spread_v3, 128-step rollouts,
4 epochs, 4 minibatches, annealed lr, clip 0.2, entropy 0.01; IPPO: tanh 64x64 nets,
lr 2.5e-4; recurrent MAPPO: relu dense-GRU-dense nets of width 128, lr 2e-3.

    J=/path/to/JaxMARL/baselines
    python -m benchmarks.peer_jaxmarl --num-envs 16 64 256 --total-steps 1048576 --peer \
        "python -m benchmarks.jaxmarl_peer $J/IPPO/ippo_ff_mpe.py $J/IPPO/config/ippo_ff_mpe.yaml" \
        --repeats 3
    python -m benchmarks.peer_jaxmarl --algo mappo_rnn --num-envs 16 64 128 \
        --total-steps 262144 --peer "python -m benchmarks.jaxmarl_peer \
        $J/MAPPO/mappo_rnn_mpe.py $J/MAPPO/config/mappo_homogenous_rnn_mpe.yaml"

Writes benchmarks/results/peer_jaxmarl.csv (ippo_ff) or peer_jaxmarl_<algo>.csv.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess

import harlax
from benchmarks.common import compile_and_run_once, write_csv
from harlax.train import make_train

# The peers' settings, per baseline; "notes" goes into the CSV.
PEERS = {
    # baselines/IPPO/ippo_ff_mpe.py: tanh 64x64 actor and critic on the observation alone
    # (no agent id), no value norm.
    "ippo_ff": dict(
        preset="ippo",
        settings=dict(lr=2.5e-4, critic_lr=2.5e-4, value_norm=False, agent_ids=False),
        notes="peer: JaxMARL baselines/IPPO/ippo_ff_mpe.py",
    ),
    # baselines/MAPPO/mappo_rnn_mpe.py (config mappo_homogenous_rnn_mpe.yaml): relu
    # dense(128) -> GRU(128) -> dense(128) actor and centralised critic, no value norm, no
    # agent id (the critic sees all agents' observations concatenated, for every agent).
    "mappo_rnn": dict(
        preset="mappo",
        settings=dict(
            lr=2e-3,
            critic_lr=2e-3,
            recurrent=True,
            hidden_dim=128,
            activation="relu",
            value_norm=False,
            agent_ids=False,
        ),
        notes="peer: JaxMARL baselines/MAPPO/mappo_rnn_mpe.py",
    ),
}


def time_harlax(algo: str, num_envs: int, total_steps: int, num_seeds: int) -> dict[str, float]:
    """Compile and run the whole training program (all updates in one chunk, like the
    peer's single scan), timed separately."""
    num_updates = total_steps // (num_envs * 128)
    peer = PEERS[algo]
    config = harlax.presets[peer["preset"]].replace(
        num_envs=num_envs,
        rollout_length=128,
        num_epochs=4,
        num_minibatches=4,
        anneal_lr=True,
        total_steps=total_steps,
        num_seeds=num_seeds,
        updates_per_chunk=num_updates,
        progress=False,
        **peer["settings"],
    )
    program = make_train(config)
    compile_s, run_s = compile_and_run_once(program)
    return {"compile_s": compile_s, "run_s": run_s}


def time_peer(command: str, num_envs: int, total_steps: int, num_seeds: int) -> dict[str, float]:
    """The peer's compile and run seconds, from its command's last JSON line."""
    out = subprocess.run(
        shlex.split(command) + [str(num_envs), str(total_steps), str(num_seeds)],
        capture_output=True,
        text=True,
        check=True,
    )
    peer = json.loads(out.stdout.strip().splitlines()[-1])
    return {"compile_s": peer["compile_s"], "run_s": peer["run_s"]}


def summarise(
    ours: list[dict[str, float]], peers: list[dict[str, float]], steps: int
) -> dict[str, float]:
    """Medians over the repeats, and the speed-up of the medians with the range of the
    paired (same repeat) ratios."""
    row = {
        "harlax_compile_s": statistics.median(r["compile_s"] for r in ours),
        "harlax_run_s": statistics.median(r["run_s"] for r in ours),
    }
    row["harlax_steps_per_s"] = steps / row["harlax_run_s"]
    if peers:
        row["peer_compile_s"] = statistics.median(r["compile_s"] for r in peers)
        row["peer_run_s"] = statistics.median(r["run_s"] for r in peers)
        row["peer_steps_per_s"] = steps / row["peer_run_s"]
        row["speedup"] = row["peer_run_s"] / row["harlax_run_s"]
        paired = [p["run_s"] / o["run_s"] for o, p in zip(ours, peers, strict=True)]
        row["speedup_min"], row["speedup_max"] = min(paired), max(paired)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", nargs="+", type=int, default=[16, 64, 256])
    parser.add_argument("--total-steps", type=int, default=1_048_576)
    parser.add_argument("--num-seeds", type=int, default=1)
    parser.add_argument("--algo", default="ippo_ff", choices=list(PEERS))
    parser.add_argument("--peer", default=None, help="command that runs the peer script")
    parser.add_argument("--peer-commit", default=None, help="JaxMARL commit, for the notes")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="alternate harlax and the peer this many times per size; medians are reported "
        "(a shared VM's speed drifts by 10-20%% between minutes)",
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    rows = []
    for num_envs in args.num_envs:
        ours, peers = [], []
        for _ in range(args.repeats):
            ours.append(time_harlax(args.algo, num_envs, args.total_steps, args.num_seeds))
            if args.peer:
                peers.append(time_peer(args.peer, num_envs, args.total_steps, args.num_seeds))
        row = {
            "algo": args.algo,
            "num_envs": num_envs,
            "total_steps": args.total_steps,
            "num_seeds": args.num_seeds,
            "repeats": args.repeats,
            **summarise(ours, peers, args.total_steps * args.num_seeds),
        }
        rows.append(row)
        print(row, flush=True)
    notes = [
        f"{PEERS[args.algo]['notes']} without hydra/wandb; harlax: preset "
        f"{PEERS[args.algo]['preset']} at the peer's settings; run_s excludes compilation; "
        "both run the whole training as one compiled program, seeds vmapped; harlax and the "
        "peer alternate `repeats` times per size: medians, speedup = median peer run_s / "
        "median harlax run_s, speedup_min/max over the paired repeats"
    ]
    if args.peer_commit:
        notes.append(f"JaxMARL commit {args.peer_commit}; peer command: {args.peer}")
    name = "peer_jaxmarl" if args.algo == "ippo_ff" else f"peer_jaxmarl_{args.algo}"
    print(f"wrote {write_csv(name, rows, notes)}")


if __name__ == "__main__":
    main()
