"""Timestamps for records (manifests, checkpoints, reports)."""

from __future__ import annotations

import datetime as _dt


def now() -> str:
    """The local time with its offset, to the second: `2026-12-01T22:35:04+00:00`."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")
