"""Nearest-name suggestions for error messages ("did you mean ...?").

A leaf module: pure Python (difflib), no harlax or JAX import, so any module may use it.

Use it wherever a name is checked against a list of valid ones::

    from harlax.names import did_you_mean

    if value not in ALGOS:
        raise ValueError(
            f"Config.algo: unknown value {value!r}{did_you_mean(value, ALGOS)}. "
            f"Fix: use one of {list(ALGOS)}"
        )

which reads ``Config.algo: unknown value 'mapo' (did you mean 'mappo'?). Fix: ...``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]

CUTOFF = 0.6
"""difflib's similarity ratio (0..1) a valid name needs to be suggested."""


def closest(name: str, valid: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The valid name nearest to `name` (difflib.get_close_matches), or None if none is
    close enough. Case is ignored when comparing (``"mpe_simple_spread_v3"`` finds
    ``"MPE_simple_spread_v3"``); the valid name is returned as it is spelled in `valid`."""
    by_folded: dict[str, str] = {}
    for candidate in valid:
        by_folded.setdefault(str(candidate).casefold(), str(candidate))
    matches = difflib.get_close_matches(str(name).casefold(), by_folded, n=1, cutoff=cutoff)
    return by_folded[matches[0]] if matches else None


def did_you_mean(name: str, valid: Iterable[str], cutoff: float = CUTOFF) -> str:
    """``" (did you mean 'x'?)"`` with the valid name nearest to `name`, or ``""`` when no
    valid name is close enough. Meant to follow the quoted bad name in an error message:
    ``f"unknown environment {name!r}{did_you_mean(name, names)}"``."""
    match = closest(name, valid, cutoff)
    return f" (did you mean {match!r}?)" if match is not None else ""
