"""Time of one update with and without harlax's XLA compiler options (`harlax.compiling`).

For each case (a preset and overrides), builds the training program, compiles a chunk of 4
updates twice (with `compiling.compiler_options(config.recurrent)` and with XLA's
defaults) and reports the best of `--reps` timed chunks per update. The two compilations
alternate per case, so both see the same machine state.

    python -m benchmarks.update_time --reps 3

Writes benchmarks/results/update_time.csv.
"""

from __future__ import annotations

import argparse
import time

import jax

import harlax
from benchmarks.common import write_csv
from benchmarks.peer_jaxmarl import PEERS
from harlax import compiling
from harlax.train import make_train

# JaxMARL's IPPO and recurrent MAPPO settings (the peers' table of peer_jaxmarl.py), and
# HARL's presets.
JAXMARL = dict(rollout_length=128, num_epochs=4, num_minibatches=4, anneal_lr=True)
CASES = {
    "ippo_jaxmarl_64": ("ippo", dict(JAXMARL, num_envs=64, **PEERS["ippo_ff"]["settings"])),
    "mappo_rnn_jaxmarl_128": (
        "mappo",
        dict(JAXMARL, num_envs=128, **PEERS["mappo_rnn"]["settings"]),
    ),
    "happo_harl": ("happo", {}),
    "hatrpo_harl": ("hatrpo", {}),
}
UPDATES = 4


def seconds_per_update(config: harlax.Config, options: dict, reps: int) -> float:
    program = make_train(config)
    state = jax.jit(program.init)(jax.random.PRNGKey(0))
    chunk = jax.jit(lambda s: program.run_chunk(s, UPDATES), compiler_options=options or None)
    compiled = chunk.lower(state).compile()
    jax.block_until_ready(compiled(state))
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        jax.block_until_ready(compiled(state))
        times.append((time.perf_counter() - start) / UPDATES)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for name in args.cases:
        preset, overrides = CASES[name]
        base = harlax.presets[preset].replace(**overrides)
        steps = base.num_envs * base.rollout_length
        config = base.replace(
            total_steps=steps * UPDATES, updates_per_chunk=UPDATES, progress=False
        )
        options = compiling.compiler_options(config.recurrent)
        with_options = seconds_per_update(config, options, args.reps)
        defaults = seconds_per_update(config, {}, args.reps)
        rows.append(
            {
                "case": name,
                "steps_per_update": steps,
                "s_per_update_harlax_options": with_options,
                "s_per_update_xla_defaults": defaults,
                "defaults_over_options": defaults / with_options,
            }
        )
        print(rows[-1], flush=True)
        write_csv(
            "update_time",
            rows,
            [f"harlax options: {options}; best of {args.reps} chunks of {UPDATES} updates, 1 seed"],
        )


if __name__ == "__main__":
    main()
