"""Suggestions for a mistyped name. Pure Python."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: object, valid: Iterable[str]) -> str:
    """`" (did you mean 'x'?)"` for the valid name closest to `name`, or `""` when none is
    close (or `name` is not a string)."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
