"""Shared pieces of the HAPPO / HATRPO benchmarks: the machine header and CSV output."""

from __future__ import annotations

import csv
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax

RESULTS = Path(__file__).parent / "results"


def machine_lines() -> list[str]:
    """`#` header lines recording where and when a benchmark ran."""
    devices = jax.devices()
    return [
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"machine: {platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
        f"cpus: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}",
        f"jax {jax.__version__} on {len(devices)} x {devices[0].device_kind}",
    ]


def write_csv(
    name: str, header: Sequence[str], rows: Sequence[Sequence[Any]], settings: dict[str, Any]
) -> Path:
    """Write `results/<name>.csv` with `#` comment lines for the machine and settings."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.csv"
    with path.open("w", newline="") as f:
        for line in machine_lines() + [f"{k}: {v}" for k, v in settings.items()]:
            f.write(f"# {line}\n")
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path
