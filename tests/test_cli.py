"""The command line: every Config field is a flag, errors come before compiling."""

from __future__ import annotations

import pytest

from harlax.cli import main, parse_train_args


def test_flags_map_to_config_fields_and_accept_scientific_notation():
    config = parse_train_args(
        [
            "--algo",
            "ippo",
            "--env",
            "MPE_simple_spread_v3",
            "--total-steps",
            "1.6384e4",
            "--num-envs",
            "8",
            "--rollout-length",
            "16",
            "--updates-per-chunk",
            "2",
            "--num-seeds",
            "4",
            "--out",
            "runs/x",
            "--lr",
            "3e-4",
        ]
    )
    assert (config.algo, config.total_steps, config.num_seeds) == ("ippo", 16384, 4)
    assert (config.out, config.lr) == ("runs/x", 3e-4)


def test_preset_is_a_base_that_flags_override():
    config = parse_train_args(["--preset", "hatrpo", "--kl-threshold", "0.02"])
    assert config.algo == "hatrpo" and config.kl_threshold == 0.02


def test_invalid_value_exits_with_the_field_named():
    with pytest.raises(SystemExit, match="total_steps"):
        parse_train_args(["--total-steps", "1000"])


def test_help_documents_fields(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_train_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--total-steps" in text and "rollout" in text.lower()


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit, match="unknown command"):
        main(["trian"])
