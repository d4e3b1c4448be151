"""Helpers shared by the benchmarks: where the published data is, and what machine this is."""

from __future__ import annotations

import json
import os
import platform
import resource
from pathlib import Path

SHARED_DATA = Path(os.environ.get("WSDB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def device() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores (CPU only)"


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def report(**figures) -> None:
    print(json.dumps({"device": device(), **figures}))
