"""Timestamps and the command line, for records (manifests, checkpoints, reports, locks)."""

from __future__ import annotations

import datetime as _dt
import functools
import platform
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# The packages whose versions shape the numbers besides ocrpipe's own code: rendering (Pillow,
# NumPy, OpenCV, trdg, fontTools), storage (lmdb), training and scoring (torch, rapidfuzz).
PACKAGES = ("torch", "pillow", "numpy", "opencv-python-headless", "trdg", "fonttools", "lmdb", "rapidfuzz",
            "matplotlib", "click")


def now() -> str:
    """The local time with its offset, to the second: `2026-12-01T22:35:04+00:00`."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def command_line() -> str:
    """The command this process runs, as a user would type it again (`ocrpipe train ...`)."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "ocrpipe"
    return shlex.join([name if name != "__main__.py" else "ocrpipe", *sys.argv[1:]])[:500]


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """Python, the machine and the versions of PACKAGES, read from the installed metadata (so
    recording them imports none of them: generate and pack stay free of torch)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": platform.python_version(), "platform": f"{platform.system()} {platform.machine()}",
            "cpu": cpu_model(), "packages": versions}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment_changes(recorded: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """`Pillow 11.0.0 -> 12.1.0` for each package (and Python) whose version differs."""
    if not recorded:
        return []
    changes = [f"Python {recorded.get('python')} -> {current['python']}"] \
        if recorded.get("python") != current["python"] else []
    before = recorded.get("packages", {})
    for name, version in current["packages"].items():
        if name in before and before[name] != version:
            changes.append(f"{name} {before[name]} -> {version}")
    return changes
