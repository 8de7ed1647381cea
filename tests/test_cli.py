"""The command line: every Config field is a flag, errors come before compiling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from opsutil import TINY_FAKE, use_fake_program

import harlax
from harlax.cli import main, parse_train_args
from harlax.guard import NonFiniteError

SRC = str(Path(harlax.__file__).resolve().parents[1])


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


def test_invalid_value_is_refused_with_the_field_named():
    with pytest.raises(ValueError, match="Config.total_steps"):
        parse_train_args(["--total-steps", "1000"])


def test_help_documents_fields(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_train_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--total-steps" in text and "rollout" in text.lower()


def test_unknown_command_is_refused_with_the_nearest(capsys):
    with pytest.raises(SystemExit, match=r"^harlax: error: unknown command 'trian' "):
        main(["trian"])
    with pytest.raises(SystemExit, match=r"did you mean 'train'\?"):
        main(["trian"])


# Library errors: one line `harlax COMMAND: error: ...` (SystemExit with a string, which
# the interpreter prints on stderr with exit status 1), no traceback.


def _one_line_error(args: list[str], command: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    message = exit_info.value.code
    assert isinstance(message, str), message  # a string: printed on stderr, status 1
    assert message.startswith(f"harlax {command}: error: ") and "\n" not in message
    assert exit_info.value.__suppress_context__  # `from None`: no chained traceback
    return message


def test_bad_config_is_one_line():
    message = _one_line_error(["train", "--total-steps", "1000"], "train")
    assert "Config.total_steps" in message and "Fix:" in message


def test_unknown_environment_is_one_line_with_the_nearest():
    message = _one_line_error(["train", "--env", "MPE_simple_sprad_v3"], "train")
    assert "did you mean 'MPE_simple_spread_v3'?" in message


def test_unknown_preset_is_one_line_with_the_nearest():
    message = _one_line_error(["train", "--preset", "hapo"], "train")
    assert "unknown --preset 'hapo' (did you mean 'happo'?)" in message


def test_nan_guard_is_one_line(monkeypatch):
    def train(config):
        raise NonFiniteError("update 3, seed 1: metric 'loss' is NaN or Inf")

    monkeypatch.setattr(sys.modules["harlax.train"], "train", train)
    message = _one_line_error(["train"], "train")
    assert message.endswith("update 3, seed 1: metric 'loss' is NaN or Inf")


def test_missing_extra_is_one_line(tmp_path, monkeypatch):
    use_fake_program(monkeypatch)
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    args = ["train", "--total-steps", str(TINY_FAKE.total_steps), "--num-envs", "4"]
    args += ["--rollout-length", "2", "--updates-per-chunk", "1", "--num-minibatches", "1"]
    args += ["--wandb-project", "p", "--out", str(tmp_path / "r")]
    assert "harlax[wandb]" in _one_line_error(args, "train")


@pytest.mark.parametrize("command", ["eval", "plot", "aggregate"])
def test_missing_run_directory_is_one_line(tmp_path, command):
    message = _one_line_error([command, str(tmp_path / "missing")], command)
    assert "No such file or directory" in message and "missing" in message


def test_resume_of_a_missing_run_directory_is_one_line(tmp_path):
    message = _one_line_error(["train", "--resume", str(tmp_path / "missing")], "train")
    assert "No such file or directory" in message


def test_run_directory_without_a_checkpoint_is_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run/config.json").write_text(TINY_FAKE.to_json())
    message = _one_line_error(["eval", str(tmp_path / "run")], "eval")
    assert "no complete checkpoint" in message


def test_checkpoint_that_does_not_restore_is_one_line(tmp_path, monkeypatch):
    """A checkpoint of another program (here the fake one) does not fit the run's real
    learner: orbax refuses the restore."""
    with monkeypatch.context() as patch:
        use_fake_program(patch)
        harlax.train(TINY_FAKE.replace(out=str(tmp_path / "r")))
    message = _one_line_error(["eval", str(tmp_path / "r")], "eval")
    assert "the checkpoint did not restore" in message


def test_bugs_keep_their_traceback(monkeypatch):
    def train(config):
        return np.reshape(np.zeros(3), (2,))  # a ValueError from inside NumPy

    module = sys.modules["harlax.train"]
    monkeypatch.setattr(module, "train", train)
    with pytest.raises(ValueError, match="reshape"):
        main(["train"])

    def train(config):
        raise RuntimeError("a bug")

    monkeypatch.setattr(module, "train", train)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["train"])


def test_console_prints_one_line_on_stderr_and_exits_1(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "harlax.cli", "eval", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC, "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.startswith("harlax")]
    missing = tmp_path / "missing/config.json"
    not_a_run = "(not a harlax run directory?)"
    assert lines == [f"harlax eval: error: No such file or directory: {missing} {not_a_run}"]
    assert "Traceback" not in out.stderr
