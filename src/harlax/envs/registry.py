"""make_env(name, **kwargs): environments by name, one row per family in `FAMILIES`.

A family is a module of `harlax.envs` with three functions:

    names() -> list[str]                 every name of the family (full names)
    check(name, env_kwargs) -> None      ValueError naming the Config field and the fix
    make(name, **kwargs)                 the environment (JaxMARL's dict-of-agents API)

and a row here: its module, the prefix its names start with ("" for a family that lists
its names, tried in order after the prefixed ones), and the install fix when the module
cannot be imported. Adding a family is one new module and one row.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from harlax.envs.jaxmarl import JaxMARLAdapter
from harlax.names import did_you_mean


@dataclass(frozen=True)
class EnvFamily:
    module: str  # harlax.envs.<name>, imported only when one of its names is used
    prefix: str = ""  # its names start with this; "" : the family lists its names
    install: str | None = None  # the fix when the module cannot be imported

    def load(self) -> ModuleType | None:
        """The family's module, or None where an optional extra is missing."""
        try:
            return importlib.import_module(self.module)
        except ImportError:
            if self.install is None:
                raise
            return None


FAMILIES = (
    EnvFamily("harlax.envs.mamujoco", "mamujoco:", "pip install 'harlax[mujoco]'"),
    EnvFamily("harlax.envs.matrix", "matrix:"),
    EnvFamily("harlax.envs.mabrax"),  # MABrax scenarios under JaxMARL's names
    EnvFamily("harlax.envs.jaxmarl_registry"),  # JaxMARL's registry (MPE, SMAX, ...)
)


def env_names() -> list[str]:
    """Every environment name `make_env` accepts (optional families when installed)."""
    names: list[str] = []
    for family in FAMILIES:
        module = family.load()
        if module is not None:
            names += [n for n in module.names() if n not in names]
    return names


def _family_of(name: str) -> ModuleType:
    """The module of the family `name` belongs to; ValueError (with the nearest valid name)
    if none."""
    for family in FAMILIES:
        if family.prefix and name.startswith(family.prefix):
            module = family.load()
            if module is None:
                raise ValueError(f"Config.env: {name!r} needs an extra. Fix: {family.install}")
            if name not in module.names():
                valid = module.names()
                raise ValueError(
                    f"Config.env: unknown environment {name!r}{did_you_mean(name, valid)}. "
                    f"Fix: use one of {valid}"
                )
            return module
    for family in FAMILIES:
        module = None if family.prefix else family.load()
        if module is not None and name in module.names():
            return module
    valid = sorted(env_names())
    raise ValueError(
        f"Config.env: unknown environment {name!r}{did_you_mean(name, valid)}. "
        f"Fix: use one of {valid}"
    )


def check_env_name(name: str, env_kwargs: dict[str, Any]) -> None:
    """Raise ValueError for an unknown name (naming the nearest valid one, if any is close)
    or what its family refuses (a missing extra, an unknown SMAX map, ...)."""
    _family_of(name).check(name, env_kwargs)


def make_raw_env(name: str, **kwargs: Any) -> Any:
    """The environment object itself (JaxMARL-style dict API)."""
    family = _family_of(name)
    family.check(name, kwargs)
    return family.make(name, **kwargs)


def make_env(name: str, **kwargs: Any) -> JaxMARLAdapter:
    """An environment by name, wrapped into stacked, padded arrays.

    SMAX scenarios are chosen with `map_name="3m"` (against JaxMARL's heuristic enemy);
    MaMuJoCo scenarios are named `mamujoco:HalfCheetah-6x1` (needs `harlax[mujoco]`);
    MABrax scenarios keep JaxMARL's names, e.g. `halfcheetah_6x1` (needs `harlax[mabrax]`).
    """
    return JaxMARLAdapter(make_raw_env(name, **kwargs))
