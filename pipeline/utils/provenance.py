"""Timestamps and the command line, for records (manifests, checkpoints, reports, locks)."""

from __future__ import annotations

import datetime as _dt
import shlex
import sys
from pathlib import Path


def now() -> str:
    """The local time with its offset, to the second: `2026-12-01T22:35:04+00:00`."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def command_line() -> str:
    """The command this process runs, as a user would type it again (`ocrpipe train ...`)."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "ocrpipe"
    return shlex.join([name if name != "__main__.py" else "ocrpipe", *sys.argv[1:]])[:500]
