"""A run's inventory kept out of the garbage collector while its checks run.

A run over 50,000 objects holds a million dicts, lists and strings that live exactly as long
as the run and never form garbage cycles the run must reclaim. While the checks turn them
into hundreds of thousands of results, the allocations trigger the collector, and each full
collection walks the whole inventory: seconds of a large run, for nothing. ``gc.freeze()``
moves every object tracked at that moment into the permanent generation, which collections
skip.

Freezing is process-wide, so :class:`FrozenHeap` counts the runs inside it: the first run to
enter freezes (so does every later one, which moves its own inventory in too) and raises the
collector's thresholds (:data:`RUN_THRESHOLDS`), and the last one to leave restores them,
unfreezes, and collects at once (leaving the cycles to the collector's own schedule would
let the next run freeze them again, run after run: RSS grew by megabytes a run that way).
Frozen objects are still freed by reference counting when the run drops them; only garbage
cycles wait for the unfreeze, and nothing stays frozen once no run is active.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RUN_THRESHOLDS = (50_000, 20, 10)
"""Collector thresholds while a run is active (CPython's default is ``(700, 10, 10)``). A
run allocates results by the hundred thousand and frees nearly all of them by reference
counting once stored; at the default the young generation is collected every 700
allocations and survivors are promoted, so results still queued for the database are walked
over and over. At 50,000 a young collection is rarer and finds most of a batch already
freed; the older generations follow at the same ratios as before."""


class FrozenHeap:
    """Reference-counted ``gc.freeze()`` / ``gc.unfreeze()`` for overlapping runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._thresholds = gc.get_threshold()

    @property
    def active(self) -> int:
        """Runs inside :meth:`frozen` now."""
        return self._active

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Everything allocated so far (the run's inventory among it) is left alone by the
        collector until the last run inside this context leaves it."""
        with self._lock:
            gc.freeze()
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
                    gc.unfreeze()
                    # Now, not at the collector's leisure: garbage cycles of the runs
                    # (their inventories among them) would otherwise still be there when
                    # the next run freezes the heap, and stay for that run too, and so on.
                    gc.collect()


FROZEN_HEAP = FrozenHeap()
"""The process's one counter: every runner freezes through it."""
