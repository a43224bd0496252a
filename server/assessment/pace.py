"""The garbage collector's pace while runs execute.

A run over 50,000 objects holds a million dicts, lists and strings (its inventory) and
allocates hundreds of thousands of results, nearly all freed by reference counting as soon
as they are stored. At CPython's default thresholds ``(700, 10, 10)`` the young generation
is collected every 700 allocations, survivors (results still queued for the database) are
promoted over and over, and every few hundred young collections a full one walks the whole
inventory: 6.8 s of a 20 s run at 50,000 objects. While any run is active,
:class:`RunHeap` raises the thresholds to :data:`RUN_THRESHOLDS` (the collector still runs,
at the same ratios between generations, just far less often), and the last run to leave
restores them: GC fell to about 1.7 s of a run.

Why not ``gc.freeze()`` the loaded inventory: the measured gain over the thresholds alone
was within noise, and frozen garbage cycles need an explicit full collection when the run
ends (without one the next run freezes them again and RSS grows run after run), which
makes the end of every run collect whatever any other code left behind at that moment.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RUN_THRESHOLDS = (50_000, 20, 10)
"""Collector thresholds while a run is active (CPython's default is ``(700, 10, 10)``)."""


class RunHeap:
    """Raises the collector's thresholds while at least one run is inside :meth:`running`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._thresholds = gc.get_threshold()

    @property
    def active(self) -> int:
        """Runs inside :meth:`running` now."""
        return self._active

    @contextmanager
    def running(self) -> Iterator[None]:
        """The collector at :data:`RUN_THRESHOLDS` until the last run inside has left."""
        with self._lock:
            if self._active == 0:
                self._thresholds = gc.get_threshold()
                gc.set_threshold(*RUN_THRESHOLDS)
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    gc.set_threshold(*self._thresholds)


RUN_HEAP = RunHeap()
"""The process's one counter: every runner goes through it."""
