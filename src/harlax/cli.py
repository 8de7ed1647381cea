"""Command line: `harlax train | presets | envs | eval | plot | aggregate`.

`harlax train` takes every Config field as a flag (`harlax train --help`), optionally on
top of a named preset (`--preset happo`). Integer flags accept scientific notation
(`--total-steps 1e6`).
"""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import tyro

from harlax.config import Config
from harlax.named_configs import presets

COMMANDS = {
    "train": "train a configuration (every Config field is a flag; --preset NAME as a base)",
    "presets": "list the named configurations",
    "envs": "list the environment names",
    "eval": "greedy evaluation of a run directory: harlax eval RUN_DIR [--episodes N]",
    "plot": "learning curves: harlax plot RUN_DIR... [-o curves.png] [--metric NAME]",
    "sweep": "a grid of runs: harlax sweep SPEC.yaml [--out DIR] (see harlax.sweep.grid_points)",
    "aggregate": "IQM and 95% intervals of runs' absolute metrics: harlax aggregate RUN_DIR...",
}

_SCIENTIFIC_INT = re.compile(r"^[+]?\d+(\.\d*)?[eE][+]?\d+$")


def _normalise_numbers(args: list[str]) -> list[str]:
    """`1e6` -> `1000000` where the value is a whole number (so int flags accept it)."""
    out = []
    for arg in args:
        if _SCIENTIFIC_INT.match(arg) and float(arg).is_integer():
            arg = str(int(float(arg)))
        out.append(arg)
    return out


def _pop_option(args: list[str], name: str) -> tuple[str | None, list[str]]:
    """Remove `--name VALUE` or `--name=VALUE` from args."""
    rest, value, i = [], None, 0
    while i < len(args):
        if args[i] == name and i + 1 < len(args):
            value, i = args[i + 1], i + 2
            continue
        if args[i].startswith(name + "="):
            value = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return value, rest


def parse_train_args(args: list[str]) -> Config:
    """Config from `harlax train` arguments (validated, so errors come before compiling)."""
    preset, args = _pop_option(args, "--preset")
    if preset is not None and preset not in presets:
        raise SystemExit(f"harlax train: unknown --preset {preset!r}; use one of {sorted(presets)}")
    base = presets[preset] if preset else Config()
    config = tyro.cli(
        Config,
        args=_normalise_numbers(args),
        default=base,
        prog="harlax train",
        description="Train a multi-agent policy. Every field of harlax.Config is a flag; "
        "--preset NAME (one of " + ", ".join(sorted(presets)) + ") sets the base values.",
    )
    try:
        config.validate()
    except ValueError as err:
        raise SystemExit(f"harlax train: {err}") from None
    return config


def _train(args: list[str]) -> None:
    from harlax.logging import episode_returns
    from harlax.runs import resume
    from harlax.train import train

    multihost = {}
    for flag, variable in (
        ("--coordinator-address", "JAX_COORDINATOR_ADDRESS"),
        ("--num-processes", "JAX_NUM_PROCESSES"),
        ("--process-id", "JAX_PROCESS_ID"),
    ):
        value, args = _pop_option(args, flag)
        if value is not None:
            multihost[variable] = value
    if multihost:
        # The JAX backend has started by now (importing harlax computes); restart with the
        # settings in the environment, where harlax._distributed joins before it starts.
        os.execvpe(
            sys.executable,
            [sys.executable, "-m", "harlax.cli", "train", *args],
            {**os.environ, **multihost},
        )
    run_dir, args = _pop_option(args, "--resume")
    if run_dir is not None:
        if args:
            raise SystemExit(
                "harlax train --resume DIR: the run's config.json is used; "
                f"drop the other options {args}"
            )
        result = resume(run_dir)
        config = result.config
        if not result.metrics:
            print(f"run directory: {result.run_dir} (already finished)")
            return
    else:
        config = parse_train_args(args)
        result = train(config)
    final = episode_returns(result.metrics)[:, -max(1, result.metrics["episodes"].shape[1] // 10) :]
    print(f"run directory: {result.run_dir}")
    print(
        f"final mean episode return (last 10% of updates, mean over {config.num_seeds} "
        f"seed(s)): {np.nanmean(final):.3f}"
    )


def _presets(_: list[str]) -> None:
    for name, config in presets.items():
        print(f"{name:10s} algo={config.algo}")


def _envs(_: list[str]) -> None:
    from harlax.envs.registry import env_names

    print("\n".join(env_names()))


def _eval(args: list[str]) -> None:
    from harlax.runs import evaluate

    episodes, args = _pop_option(args, "--episodes")
    if len(args) != 1:
        raise SystemExit("usage: harlax eval RUN_DIR [--episodes N]")
    returns = evaluate(args[0], episodes=int(episodes or 64))
    for seed, values in enumerate(returns):
        print(f"seed {seed}: greedy return {np.nanmean(values):.3f} over {len(values)} episodes")


def _plot(args: list[str]) -> None:
    from harlax.plot import plot

    out, args = _pop_option(args, "-o")
    metric, args = _pop_option(args, "--metric")
    if not args:
        raise SystemExit("usage: harlax plot RUN_DIR... [-o curves.png] [--metric NAME]")
    path = plot(args, out or "curves.png", metric or "episode_return")
    print(f"wrote {path}")


def _aggregate(args: list[str]) -> None:
    from harlax.aggregate import aggregate, scores_from_runs

    if not args:
        raise SystemExit("usage: harlax aggregate RUN_DIR...")
    for algo, row in aggregate(scores_from_runs(args)).items():
        print(f"{algo:10s} IQM {row['iqm']:.3f}  95% CI [{row['low']:.3f}, {row['high']:.3f}]")


def _sweep(args: list[str]) -> None:
    import yaml

    from harlax.sweep import run_grid

    out, args = _pop_option(args, "--out")
    if len(args) != 1:
        raise SystemExit(
            "usage: harlax sweep SPEC.yaml [--out DIR]\n  SPEC: base: {field: "
            "value}, algos: [...], envs: [...], grid: {field: [values]}, out: DIR"
        )
    spec = yaml.safe_load(open(args[0]))
    out = out or spec.pop("out", None) or "runs/sweep"
    spec.pop("out", None)
    try:
        table = run_grid(spec, out)
    except ValueError as err:
        raise SystemExit(f"harlax sweep: {err}") from None
    for label, row in table.items():
        print(f"{label:30s} IQM {row['iqm']:.3f}  95% CI [{row['low']:.3f}, {row['high']:.3f}]")
    print(f"wrote {out}/aggregate.csv and {out}/curves.png")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: harlax COMMAND [options]\n\ncommands:")
        for name, text in COMMANDS.items():
            print(f"  {name:8s} {text}")
        if argv and argv[0] not in ("-h", "--help"):
            raise SystemExit(f"harlax: unknown command {argv[0]!r}")
        return
    handlers = {
        "train": _train,
        "presets": _presets,
        "envs": _envs,
        "eval": _eval,
        "plot": _plot,
        "aggregate": _aggregate,
        "sweep": _sweep,
    }
    handlers[argv[0]](argv[1:])


if __name__ == "__main__":
    main()
