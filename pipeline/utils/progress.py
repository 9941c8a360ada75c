"""Progress of long work: a bar with rate and ETA on a terminal; in a log (nohup, a job
scheduler, CI, a notebook's subprocess), a plain line at a steady interval instead."""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm

LOG_INTERVAL = 30.0      # seconds between progress lines when stderr is not a terminal


class LogProgress:
    """The part of tqdm's interface the stages use, writing `desc: 1200/3000 steps (40%), 220
    steps/s, ETA 8 s; loss=0.42` to stderr at most every LOG_INTERVAL seconds."""

    def __init__(self, total: int | None, desc: str, unit: str, initial: int = 0) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.start = self.last = time.monotonic()
        self.first = initial
        self.postfix = ""

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= LOG_INTERVAL:
            self.last = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float) -> str:
        rate = (self.n - self.first) / max(now - self.start, 1e-9)
        done = f"{self.n}/{self.total} {self.unit}s ({100 * self.n / self.total:.0f}%)" if self.total else \
            f"{self.n} {self.unit}s"
        eta = f", ETA {_duration((self.total - self.n) / rate)}" if self.total and rate > 0 else ""
        return f"{self.desc}: {done}, {rate:.1f} {self.unit}s/s{eta}" + (f"; {self.postfix}" if self.postfix else "")

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def write(self, text: str, file: Any = None) -> None:
        """A line of its own (e.g. a validation result), at once (tqdm.write's signature)."""
        print(text, file=file or sys.stderr, flush=True)

    def close(self) -> None:
        pass

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def bar(total: int | None, desc: str, unit: str = "line", enabled: bool | None = None,
        **kwargs: Any) -> tqdm | LogProgress:
    """A tqdm bar on stderr when it is a terminal; with `enabled=None` and no terminal, a plain
    progress line every LOG_INTERVAL seconds; nothing with `enabled=False` (--no-progress).
    Both take `write(text, file=sys.stderr)` for a line of their own (tqdm's keeps the bar below it;
    it writes to stdout unless told)."""
    if enabled is None:
        if not sys.stderr.isatty():
            return LogProgress(total, desc, unit, kwargs.get("initial", 0))
        enabled = True
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=False, dynamic_ncols=True,
                disable=not enabled, file=sys.stderr, smoothing=0.1, mininterval=0.5, **kwargs)
