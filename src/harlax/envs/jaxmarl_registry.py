"""The environment family of JaxMARL's own registry (MPE, SMAX, ...; see
`harlax.envs.registry`). SMAX is played against JaxMARL's heuristic enemy, its map chosen by
`env_kwargs["map_name"]` (default "3m")."""

from __future__ import annotations

from typing import Any

from harlax.names import did_you_mean

SMAX_NAMES = ("SMAX", "HeuristicEnemySMAX")


def _jaxmarl():
    from harlax.envs._quiet import import_jaxmarl_quietly

    import_jaxmarl_quietly()
    import jaxmarl
    from jaxmarl.registration import registered_envs

    return jaxmarl, registered_envs


def names() -> list[str]:
    return list(_jaxmarl()[1])


def check(name: str, env_kwargs: dict[str, Any]) -> None:
    if name in SMAX_NAMES:
        from jaxmarl.environments.smax.smax_env import MAP_NAME_TO_SCENARIO

        map_name = env_kwargs.get("map_name", "3m")
        if map_name not in MAP_NAME_TO_SCENARIO:
            raise ValueError(
                f"Config.env_kwargs['map_name']: unknown SMAX map {map_name!r}"
                f"{did_you_mean(map_name, MAP_NAME_TO_SCENARIO)}. "
                f"Fix: use one of {sorted(MAP_NAME_TO_SCENARIO)}"
            )


def make(name: str, **kwargs: Any) -> Any:
    jaxmarl, _ = _jaxmarl()
    if name in SMAX_NAMES:
        from jaxmarl.environments.smax import map_name_to_scenario

        kwargs = dict(kwargs)
        kwargs["scenario"] = map_name_to_scenario(kwargs.pop("map_name", "3m"))
        name = "HeuristicEnemySMAX"
    return jaxmarl.make(name, **kwargs)
