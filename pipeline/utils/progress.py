"""Progress bars for long work: rate and ETA on a terminal, silent in logs and pipes."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def bar(total: int | None, desc: str, unit: str = "line", enabled: bool | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr; `enabled=None` shows it only when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=False, dynamic_ncols=True,
                disable=not enabled, file=sys.stderr, smoothing=0.1, mininterval=0.5, **kwargs)
