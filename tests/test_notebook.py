"""examples/quickstart.ipynb runs top to bottom (with its tiny budget).

Executed with nbclient when it is installed (a real kernel), else by running the code cells
in order in one fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import harlax

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
SRC = str(Path(harlax.__file__).resolve().parents[1])


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    nb = json.loads(NOTEBOOK.read_text())
    env = dict(os.environ, PYTHONPATH=SRC, JAX_PLATFORMS="cpu")
    try:
        import nbclient
        import nbformat
    except ImportError:
        code = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        child = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert child.returncode == 0, child.stderr[-3000:]
        assert "checkpoint at update 4" in child.stdout
        return
    monkeypatch.setenv("PYTHONPATH", SRC)
    notebook = nbformat.reads(NOTEBOOK.read_text(), as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=600, resources={"metadata": {"path": tmp_path}}
    ).execute()
