"""Run one of JaxMARL's baseline scripts, unmodified on disk, as the peer of `peer_jaxmarl`.

JaxMARL's baselines (`baselines/IPPO/ippo_ff_mpe.py`, `baselines/MAPPO/mappo_rnn_mpe.py`)
are not in the `jaxmarl` package and their code is not part of this repository. This
runner loads such a file from a JaxMARL checkout, with three changes made in memory only:
`hydra` and `wandb` are replaced by empty stand-ins (they are only the entry point and the
logger), and the per-update `jax.experimental.io_callback(...)` line that logs to wandb is
dropped, so the peer runs as one compiled program like harlax. Everything else, its
`make_train` and its yaml config, is the peer's own.

    python -m benchmarks.jaxmarl_peer JAXMARL/baselines/IPPO/ippo_ff_mpe.py \
        JAXMARL/baselines/IPPO/config/ippo_ff_mpe.yaml NUM_ENVS TOTAL_STEPS NUM_SEEDS

prints one JSON line `{"compile_s": ..., "run_s": ...}` (seeds vmapped, as the IPPO
script's own `main` does); with `--compile-only` it stops after compiling (`startup.py`).
`compile_s` is the whole program's trace, lowering and XLA compilation. Give
`peer_jaxmarl --peer` the command up to the yaml path.
"""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

import jax
import yaml

LOGGING_LINE = "jax.experimental.io_callback(callback, None, metric)"


def _stand_in_modules() -> None:
    """Empty `hydra`, `wandb` and (if absent) `omegaconf` modules: the peer imports them
    at the top, but `make_train` never calls them once the logging line is gone."""
    hydra = types.ModuleType("hydra")
    hydra.main = lambda *args, **kwargs: lambda fn: fn
    sys.modules["hydra"] = hydra
    sys.modules["wandb"] = types.ModuleType("wandb")
    try:
        import omegaconf  # noqa: F401
    except ImportError:
        omegaconf = types.ModuleType("omegaconf")
        omegaconf.OmegaConf = None
        sys.modules["omegaconf"] = omegaconf


COMPILE_ONLY = "--compile-only"  # flag: compile, print compile_s, do not run


def load_make_train(script: Path):
    """The peer's `make_train`, from its source with the logging callback removed."""
    source = script.read_text()
    if source.count(LOGGING_LINE) != 1:
        raise SystemExit(f"{script}: expected one `{LOGGING_LINE}` line; is this the right file?")
    _stand_in_modules()
    # A registered module: flax and dataclasses look their classes' modules up by name.
    module = types.ModuleType("jaxmarl_peer_script")
    module.__file__ = str(script)
    sys.modules[module.__name__] = module
    exec(compile(source.replace(LOGGING_LINE, "pass"), str(script), "exec"), module.__dict__)
    return module.make_train


def read_config(path: Path) -> dict:
    """The peer's yaml config as hydra (OmegaConf) reads it: YAML 1.1 leaves `2e-3` a
    string, OmegaConf makes it a float."""

    def number(value):
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value

    return {key: number(value) for key, value in yaml.safe_load(path.read_text()).items()}


def main() -> None:
    args = [a for a in sys.argv[1:] if a != COMPILE_ONLY]
    script, config_path, num_envs, total_steps, num_seeds = args
    config = read_config(Path(config_path))
    config.update(NUM_ENVS=int(num_envs), TOTAL_TIMESTEPS=int(total_steps))
    make_train = load_make_train(Path(script))
    rngs = jax.random.split(jax.random.PRNGKey(config["SEED"]), int(num_seeds))
    program = jax.jit(jax.vmap(make_train(config)))
    start = time.perf_counter()
    compiled = program.lower(rngs).compile()
    compile_s = time.perf_counter() - start
    if COMPILE_ONLY in sys.argv:
        print(json.dumps({"compile_s": compile_s}))
        return
    start = time.perf_counter()
    jax.block_until_ready(compiled(rngs))
    run_s = time.perf_counter() - start
    print(json.dumps({"compile_s": compile_s, "run_s": run_s}))


if __name__ == "__main__":
    main()
