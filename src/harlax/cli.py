"""Command line: `harlax train | presets | envs | eval | plot | aggregate`.

`harlax train` takes every Config field as a flag (`harlax train --help`), optionally on
top of a named preset (`--preset happo`). Integer flags accept scientific notation
(`--total-steps 1e6`).

Errors the user can fix (a bad config, an unknown preset or name, a missing run directory
or checkpoint, a checkpoint that does not restore, a run stopped by the NaN guard) are
printed by `main` as one line, `harlax COMMAND: error: ...`, with exit status 1; any other
exception is a bug and keeps its traceback (see `user_error`).

The commands that compile keep their compiled programs on disk
(`harlax.compiling.enable_compilation_cache`; `HARLAX_COMPILATION_CACHE=DIR` chooses the
directory, `HARLAX_COMPILATION_CACHE=off` turns it off), so a second run of a config, or
another seed of it, starts without compiling.
"""

from __future__ import annotations

import os
import re
import sys
import types

import numpy as np
import tyro

from harlax.compiling import enable_compilation_cache
from harlax.config import Config
from harlax.guard import NonFiniteError
from harlax.named_configs import presets
from harlax.names import did_you_mean

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
    """Config from `harlax train` arguments, validated (a ValueError naming the field
    before anything compiles; `main` prints it as one line)."""
    preset, args = _pop_option(args, "--preset")
    if preset is not None and preset not in presets:
        raise ValueError(
            f"unknown --preset {preset!r}{did_you_mean(preset, presets)}. "
            f"Fix: use one of {sorted(presets)}"
        )
    base = presets[preset] if preset else Config()
    config = tyro.cli(
        Config,
        args=_normalise_numbers(args),
        default=base,
        prog="harlax train",
        description="Train a multi-agent policy. Every field of harlax.Config is a flag; "
        "--preset NAME (one of " + ", ".join(sorted(presets)) + ") sets the base values.",
    )
    config.validate()
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
    table = run_grid(spec, out)
    for label, row in table.items():
        print(f"{label:30s} IQM {row['iqm']:.3f}  95% CI [{row['low']:.3f}, {row['high']:.3f}]")
    print(f"wrote {out}/aggregate.csv and {out}/curves.png")


def _raised_in(err: BaseException, package: str) -> bool:
    """Whether the innermost frame of `err`'s traceback is code of `package`."""
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return _in_package(tb.tb_frame.f_globals.get("__name__", ""), package)


def _restoring_in(err: BaseException, package: str) -> bool:
    """Whether `err` passed through code of `package` inside a function named `restore*`."""
    tb: types.TracebackType | None = err.__traceback__
    restoring = in_package = False
    while tb is not None:
        code = tb.tb_frame.f_code
        restoring |= code.co_name.startswith("restore")
        in_package |= _in_package(tb.tb_frame.f_globals.get("__name__", ""), package)
        tb = tb.tb_next
    return restoring and in_package


def _in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def user_error(err: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug.

    User errors: the ValueErrors harlax raises on purpose (config validation,
    `Config.<field>: ... Fix: ...`; unknown names; run-directory checks: the innermost
    frame is harlax's own code, so a ValueError from inside JAX or NumPy is still a bug);
    an ImportError asking for an optional extra (`pip install ...`); `NonFiniteError`
    (the NaN guard); a missing file or directory (a run directory, its config.json, a
    checkpoint); and an error raised inside orbax while restoring (a checkpoint that does
    not fit the run's program, or a damaged one).
    """
    if isinstance(err, NonFiniteError):
        return f"training stopped: {err}"
    if isinstance(err, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        if err.filename is None:
            return str(err)
        hint = " (not a harlax run directory?)" if str(err.filename).endswith(".json") else ""
        return f"{err.strerror}: {err.filename}{hint}"
    if _restoring_in(err, "orbax"):
        first = str(err).strip().splitlines()[0].rstrip(":") if str(err).strip() else ""
        return f"the checkpoint did not restore ({type(err).__name__}): {first}"
    if isinstance(err, ValueError) and _raised_in(err, "harlax"):
        return " ".join(str(err).split())
    if isinstance(err, ImportError) and "pip install" in str(err):
        return " ".join(str(err).split())
    return None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: harlax COMMAND [options]\n\ncommands:")
        for name, text in COMMANDS.items():
            print(f"  {name:8s} {text}")
        if argv and argv[0] not in ("-h", "--help"):
            raise SystemExit(
                f"harlax: error: unknown command {argv[0]!r}{did_you_mean(argv[0], COMMANDS)}"
            )
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
    if argv[0] in ("train", "eval", "sweep"):  # the commands that compile
        enable_compilation_cache()
    try:
        handlers[argv[0]](argv[1:])
    except Exception as err:
        message = user_error(err)
        if message is None:
            raise  # a bug: keep the traceback
        # SystemExit with a string: the interpreter prints it on stderr and exits with 1.
        raise SystemExit(f"harlax {argv[0]}: error: {message}") from None


if __name__ == "__main__":
    main()
