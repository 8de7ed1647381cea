"""Nearest-name suggestions (harlax.names) and where error messages use them."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import harlax
from harlax import names
from harlax.names import closest, did_you_mean


def test_did_you_mean_names_the_nearest_valid_name():
    valid = ["ippo", "mappo", "happo", "hatrpo"]
    assert did_you_mean("mapo", valid) == " (did you mean 'mappo'?)"
    assert did_you_mean("hatrpoo", valid) == " (did you mean 'hatrpo'?)"
    assert closest("hapo", valid) == "happo"


def test_nothing_close_gives_an_empty_suggestion():
    assert did_you_mean("zzzz", ["ippo", "mappo"]) == ""
    assert did_you_mean("mapo", []) == ""
    assert closest("zzzz", ["ippo"]) is None


def test_case_is_ignored_and_the_valid_spelling_returned():
    valid = ("MPE_simple_spread_v3", "MPE_simple_reference_v3")
    assert closest("mpe_simple_spread_v3", valid) == "MPE_simple_spread_v3"


def test_any_iterable_of_names_works():
    assert closest("tran", {"train": "...", "eval": "..."}) == "train"  # a dict: its keys
    assert closest("tran", (n for n in ["train", "eval"])) == "train"


def test_names_is_a_leaf_of_the_standard_library():
    """No harlax or JAX import, so config and validation modules can use it freely."""
    tree = ast.parse(Path(names.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {m.split(".")[0] for m in imported} <= set(sys.stdlib_module_names) | {"__future__"}


def test_unknown_environment_suggests_the_nearest():
    with pytest.raises(ValueError, match=r"did you mean 'MPE_simple_spread_v3'\?"):
        harlax.Config(env="MPE_simple_sprad_v3").validate()


def test_unknown_matrix_game_suggests_the_nearest():
    with pytest.raises(ValueError, match=r"did you mean 'matrix:climbing'\?"):
        harlax.Config(env="matrix:climbng").validate()
