"""Worker threads for :class:`jaxinit.generator.TorchGenerator`'s large fills.

numpy releases the GIL inside its loops, so blocks of work run in parallel. ``_THREADS`` is the
number of helpers (set it before the first large fill to change it).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
# Worker threads besides the caller's: only with 4+ usable cores (on a busy 2-core machine a
# second thread measured slower, not faster), and at most 3.
_THREADS = min(3, _CORES - 1) if (_CORES or 1) >= 4 else 0
_PARALLEL_MIN = 1 << 18  # elements; below this, handing work to a thread costs more than it saves
_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (owning pid, pool)


def _pool() -> ThreadPoolExecutor | None:
    """The shared worker threads, or None when there are none (fewer than 4 cores).

    A forked child gets a pool of its own: the parent's threads do not exist there.
    """
    global _POOL
    if _THREADS <= 0:
        return None
    if _POOL is None or _POOL[0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _POOL = (os.getpid(), ThreadPoolExecutor(_THREADS, thread_name_prefix="jaxinit-rng"))
    return _POOL[1]


def _run_parallel(tasks: list[Callable[[], None]]) -> None:
    """Run independent tasks on the worker threads and on this one; return when all are done."""
    pool = _pool()
    if pool is None or len(tasks) < 2:
        for task in tasks:
            task()
        return
    todo = deque(tasks)

    def drain() -> None:
        while True:
            try:
                task = todo.popleft()
            except IndexError:
                return
            task()

    helpers = [pool.submit(drain) for _ in range(min(_THREADS, len(tasks) - 1))]
    drain()
    for helper in helpers:
        helper.result()
