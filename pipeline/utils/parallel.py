"""Process pools for generate and pack: fork when it is safe, a fresh interpreter otherwise.

fork shares the parent's loaded corpus and fonts with the workers at no cost, but forking a
process that has started threads (torch's OpenMP pool, once torch ran in this process) can
leave a lock held forever in the child, which then hangs in its first native call. The
`ocrpipe generate` and `pack` commands never import torch; a program that embeds them after
training does, and then gets forkserver (or spawn) workers, which pickle what they need.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from multiprocessing.context import BaseContext
from typing import Any, Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as under taskset or a container's
    cpuset), not every core of the machine."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def pool_context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and "torch" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _quiet(initializer: Callable[..., None], initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent handles Ctrl-C and stops the pool
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # and SIGTERM; the pool's own stop ends a worker quietly
    initializer(*initargs)


def worker_map(fn: Callable[[T], R], items: Iterable[T], workers: int, initializer: Callable[..., None],
               initargs: tuple[Any, ...], ordered: bool = True, chunksize: int = 1) -> Iterator[R]:
    """`fn` over `items` in `workers` processes (in this one when `workers` <= 1), each set up
    once by `initializer(*initargs)`; results in input order unless `ordered` is False."""
    if workers <= 1:
        initializer(*initargs)
        yield from map(fn, items)
        return
    pool = pool_context().Pool(workers, initializer=_quiet, initargs=(initializer, initargs))
    try:
        yield from (pool.imap if ordered else pool.imap_unordered)(fn, items, chunksize=chunksize)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
