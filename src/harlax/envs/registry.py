"""make_env(name, **kwargs): JaxMARL environments by registry name, plus harlax's own."""

from __future__ import annotations

from typing import Any

from harlax.envs.jaxmarl import JaxMARLAdapter
from harlax.names import did_you_mean

SMAX_NAMES = ("SMAX", "HeuristicEnemySMAX")
MAMUJOCO_PREFIX = "mamujoco:"
MATRIX_PREFIX = "matrix:"


def _jaxmarl():
    from harlax.envs._quiet import import_jaxmarl_quietly

    import_jaxmarl_quietly()
    import jaxmarl
    from jaxmarl.registration import registered_envs

    return jaxmarl, registered_envs


def env_names() -> list[str]:
    """Every environment name `make_env` accepts (MaMuJoCo names when installed)."""
    _, registered = _jaxmarl()
    names = list(registered)
    try:
        from harlax.envs.mamujoco import SCENARIOS
    except ImportError:
        SCENARIOS = ()
    from harlax.envs.matrix import GAMES

    return names + [MAMUJOCO_PREFIX + s for s in SCENARIOS] + [MATRIX_PREFIX + g for g in GAMES]


def check_env_name(name: str, env_kwargs: dict[str, Any]) -> None:
    """Raise ValueError for an unknown name or SMAX map, naming the nearest valid one (if
    any is close) and listing them all."""
    if name.startswith(MAMUJOCO_PREFIX):
        try:
            from harlax.envs.mamujoco import SCENARIOS
        except ImportError as err:
            raise ValueError(
                f"Config.env: {name!r} needs the MuJoCo extra. Fix: pip install 'harlax[mujoco]'"
            ) from err
        scenario = name[len(MAMUJOCO_PREFIX) :]
        if scenario not in SCENARIOS:
            valid = [MAMUJOCO_PREFIX + s for s in SCENARIOS]
            raise ValueError(
                f"Config.env: unknown MaMuJoCo scenario {scenario!r}"
                f"{did_you_mean(name, valid)}. Fix: use one of {valid}"
            )
        return
    if name.startswith(MATRIX_PREFIX):
        from harlax.envs.matrix import GAMES

        if name[len(MATRIX_PREFIX) :] not in GAMES:
            valid = [MATRIX_PREFIX + g for g in GAMES]
            raise ValueError(
                f"Config.env: unknown matrix game {name!r}{did_you_mean(name, valid)}. "
                f"Fix: use one of {valid}"
            )
        return
    from harlax.envs.mabrax import INSTALL_FIX, SCENARIOS, brax_available

    if name in SCENARIOS and not brax_available():
        raise ValueError(f"Config.env: {name!r} is a MABrax scenario. Fix: {INSTALL_FIX}")
    _, registered = _jaxmarl()
    if name not in registered:
        valid = sorted(env_names())
        raise ValueError(
            f"Config.env: unknown environment {name!r}{did_you_mean(name, valid)}. "
            f"Fix: use one of {valid}"
        )
    if name in SMAX_NAMES:
        from jaxmarl.environments.smax.smax_env import MAP_NAME_TO_SCENARIO

        map_name = env_kwargs.get("map_name", "3m")
        if map_name not in MAP_NAME_TO_SCENARIO:
            raise ValueError(
                f"Config.env_kwargs['map_name']: unknown SMAX map {map_name!r}"
                f"{did_you_mean(map_name, MAP_NAME_TO_SCENARIO)}. "
                f"Fix: use one of {sorted(MAP_NAME_TO_SCENARIO)}"
            )


def make_raw_env(name: str, **kwargs: Any) -> Any:
    """The environment object itself (JaxMARL-style dict API)."""
    check_env_name(name, kwargs)
    if name.startswith(MAMUJOCO_PREFIX):
        from harlax.envs.mamujoco import make_mamujoco

        return make_mamujoco(name[len(MAMUJOCO_PREFIX) :], **kwargs)
    if name.startswith(MATRIX_PREFIX):
        from harlax.envs.matrix import MatrixGameEnv

        return MatrixGameEnv(name[len(MATRIX_PREFIX) :], **kwargs)
    from harlax.envs.mabrax import SCENARIOS, make_mabrax

    if name in SCENARIOS:
        return make_mabrax(name, **kwargs)
    jaxmarl, _ = _jaxmarl()
    if name in SMAX_NAMES:
        from jaxmarl.environments.smax import map_name_to_scenario

        kwargs = dict(kwargs)
        kwargs["scenario"] = map_name_to_scenario(kwargs.pop("map_name", "3m"))
        name = "HeuristicEnemySMAX"
    return jaxmarl.make(name, **kwargs)


def make_env(name: str, **kwargs: Any) -> JaxMARLAdapter:
    """An environment by name, wrapped into stacked, padded arrays.

    SMAX scenarios are chosen with `map_name="3m"` (against JaxMARL's heuristic enemy);
    MaMuJoCo scenarios are named `mamujoco:HalfCheetah-6x1` (needs `harlax[mujoco]`);
    MABrax scenarios keep JaxMARL's names, e.g. `halfcheetah_6x1` (needs `harlax[mabrax]`).
    """
    return JaxMARLAdapter(make_raw_env(name, **kwargs))
