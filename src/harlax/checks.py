"""The whole check of a config before anything is built: its fields (`harlax.validation`),
its environment (`harlax.envs.registry`) and its devices (`harlax.parallel`).

`Config.validate()` and every entry point (`train`, `make_train`, the CLI) run `check` first,
so a bad config fails with one clear ValueError before any compilation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harlax.choices import ADVERSARY_PREFIX
from harlax.envs.registry import check_env_name, make_raw_env
from harlax.parallel import check_devices
from harlax.validation import Derived, derive

if TYPE_CHECKING:
    from harlax.config import Config


def check(config: Config) -> Derived:
    """Validate `config` completely; return its `Derived` values."""
    derived = derive(config)
    check_env_name(config.env, config.env_kwargs)
    if config.adversary_algo is not None:
        check_adversaries(config)
    check_devices(config.num_devices, config.num_envs)
    return derived


def check_adversaries(config: Config) -> None:
    """Cross-play needs agents whose name starts with `ADVERSARY_PREFIX`. Builds the
    environment object (no compilation) to read its agent names."""
    agents = tuple(make_raw_env(config.env, **config.env_kwargs).agents)
    if not any(name.startswith(ADVERSARY_PREFIX) for name in agents):
        raise ValueError(
            f"Config.adversary_algo: environment {config.env!r} has no agent named "
            f"{ADVERSARY_PREFIX}* (agents: {list(agents)}). Fix: use an environment with "
            "adversaries (e.g. MPE_simple_adversary_v3, MPE_simple_tag_v3, "
            "MPE_simple_push_v3), or adversary_algo=None"
        )
