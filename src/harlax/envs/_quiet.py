"""Import jaxmarl without its import-time notice about optional submodules."""

import os
import sys


def import_jaxmarl_quietly() -> None:
    """Import jaxmarl with stdout pointed at /dev/null (at the file-descriptor level,
    because some of its dependencies rebind `sys.stdout` during import)."""
    if "jaxmarl" in sys.modules:
        return
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        import jaxmarl  # noqa: F401
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
