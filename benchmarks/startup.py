"""Start-up: the default `harlax train` until its first chunk is done, against the time
the JaxMARL peer takes to compile its training program.

Each repetition runs in fresh processes, alternating: harlax cold (an empty compilation
cache, as a first run), harlax warm (a second process with the cache the first one
filled, as `harlax train` reruns a config or runs another seed of it), and the peer.
harlax: `harlax.train(Config(), write=False)` stopped after its first chunk
(`updates_per_chunk` updates); `TrainResult.seconds` splits it into setup (program,
environment, shapes), compile (init and the chunk, on threads) and the first chunk.
`import harlax` is timed apart. Peer: `--peer` as for `peer_jaxmarl` (JaxMARL's IPPO,
the nearest baseline: JaxMARL has no feed-forward MAPPO for MPE), run with
`--compile-only` at the default run's size (64 environments, 1,048,576 steps, one seed);
its `compile_s` is its whole program's trace, lowering and compilation.

    J=/path/to/JaxMARL/baselines
    python -m benchmarks.startup --reps 3 --peer \\
        "python -m benchmarks.jaxmarl_peer $J/IPPO/ippo_ff_mpe.py $J/IPPO/config/ippo_ff_mpe.yaml"

Writes benchmarks/results/startup.csv: one row per repetition, then the medians.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile

from benchmarks.common import write_csv

HARLAX = """
import json, sys, time
start = time.perf_counter()
import harlax
import_s = time.perf_counter() - start
harlax.compiling.enable_compilation_cache(sys.argv[1])
config = harlax.Config(progress=False)
result = harlax.train(config, write=False, stop_after=config.updates_per_chunk)
print(json.dumps(dict(import_s=import_s, **result.seconds)))
"""


def last_json(command: list[str]) -> dict:
    """The last line of `command`'s output, read as JSON."""
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--peer", default=None, help="command that runs the peer script")
    parser.add_argument("--name", default="startup")
    args = parser.parse_args()
    import harlax

    config = harlax.Config()
    rows = []
    for rep in range(args.reps):
        with tempfile.TemporaryDirectory() as cache:
            cold = last_json([sys.executable, "-c", HARLAX, cache])
            warm = last_json([sys.executable, "-c", HARLAX, cache])
        row = {
            "rep": rep,
            "harlax_import_s": cold["import_s"],
            "harlax_setup_s": cold["setup"],
            "harlax_compile_s": cold["compile"],
            "harlax_first_chunk_s": cold["train"],
            "harlax_to_first_chunk_s": cold["setup"] + cold["compile"] + cold["train"],
            "harlax_warm_compile_s": warm["compile"],
            "harlax_warm_to_first_chunk_s": warm["setup"] + warm["compile"] + warm["train"],
        }
        if args.peer:
            size = [str(config.num_envs), str(config.total_steps), "1", "--compile-only"]
            peer = last_json(shlex.split(args.peer) + size)
            row["peer_compile_s"] = peer["compile_s"]
            row["harlax_over_peer"] = row["harlax_to_first_chunk_s"] / peer["compile_s"]
            row["harlax_warm_over_peer"] = row["harlax_warm_to_first_chunk_s"] / peer["compile_s"]
        rows.append(row)
        print(row, flush=True)
    medians = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "rep"}
    rows.append({"rep": "median", **medians})
    notes = [
        f"harlax: default Config ({config.algo}, {config.env}, {config.num_envs} envs, "
        f"chunks of {config.updates_per_chunk} updates) until its first chunk is done; "
        "import timed apart",
        f"peer: {args.peer or 'not run'} {config.num_envs} {config.total_steps} 1 "
        "--compile-only (trace + lower + compile of its whole training program)",
        "fresh processes for each, alternating; cold: empty compilation cache; warm: a "
        "second process with the cache the cold one filled",
    ]
    print(write_csv(args.name, rows, notes))


if __name__ == "__main__":
    main()
