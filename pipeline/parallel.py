"""Process pools for generate and pack: fork when it is safe, a fresh interpreter otherwise.

fork shares the parent's loaded corpus and fonts with the workers at no cost, but forking a
process that has started threads (torch's OpenMP pool, once torch ran in this process) can
leave a lock held forever in the child, which then hangs in its first native call. The
`ocrpipe generate` and `pack` commands never import torch; a program that embeds them after
training does, and then gets forkserver (or spawn) workers, which pickle what they need.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from multiprocessing.context import BaseContext


def pool_context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and "torch" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
