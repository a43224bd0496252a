"""The interpreter's pace while runs execute: the garbage collector's and the GIL's.

**The collector.** A run over 50,000 objects holds a million dicts, lists and strings (its
inventory) and allocates hundreds of thousands of results, nearly all freed by reference
counting as soon as they are stored. At CPython's default thresholds ``(700, 10, 10)`` the
young generation is collected every 700 allocations, survivors (results still queued for the
database) are promoted over and over, and every few hundred young collections a full one
walks the whole inventory: 6.8 s of a 20 s run at 50,000 objects. While any run is active,
from the inventory's loading (which makes most of those objects) to its last check,
:class:`RunPace` raises the thresholds to :data:`RUN_THRESHOLDS`, and the last run to leave
restores them. The young generation is still collected, every 50,000 allocations; the
middle one, where the loaded inventory sits, is not walked during a run at all (each such
walk took 80-230 ms of a 10,000-object run, all of it in a pause of every thread), so the
inventory must not be left for the collector to free: the runner drops its memoised indexes
(which can refer back to it) when the checks are done, and reference counting frees it.
Cycles that outlive a young collection wait for the run's end.

Why not ``gc.freeze()`` the loaded inventory: the measured gain over the thresholds alone
was within noise, and frozen garbage cycles need an explicit full collection when the run
ends (without one the next run freezes them again and RSS grows run after run), which
makes the end of every run collect whatever any other code left behind at that moment.

**The GIL.** Checks hold the interpreter while they compute; every other thread (the event
loop answering RPCs, the storage thread handing a batch to the writer process and taking
its answer) gets it only when a check thread is made to drop it, after the switch interval
(CPython's default 5 ms). A run records its checks one batch after the other, each batch
taking several such hand-overs, so at 5 ms the writer process sat idle between batches and
a 50,000-object run ended 1.3-2.9 s later than at :data:`RUN_SWITCH_INTERVAL_S` (measured
in pairs with ``bench/bench_assessment.py``). The shorter interval also lets RPCs through
sooner while checks run; the price is more switches between check threads (a few hundred
more per second, each a few microseconds).
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RUN_THRESHOLDS = (50_000, 1_000, 10)
"""Collector thresholds while a run is active (CPython's default is ``(700, 10, 10)``): the
young generation every 50,000 allocations, the middle one practically never."""

RUN_SWITCH_INTERVAL_S = 0.001
"""``sys.setswitchinterval`` while a run is active (CPython's default is 0.005)."""


class RunPace:
    """Sets the collector's thresholds and the switch interval while at least one run is
    inside :meth:`running`, and puts back what was there before when the last one leaves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._thresholds = gc.get_threshold()
        self._switch_interval = sys.getswitchinterval()

    @property
    def active(self) -> int:
        """Runs inside :meth:`running` now."""
        return self._active

    @contextmanager
    def running(self) -> Iterator[None]:
        """The run's pace until the last run inside has left."""
        with self._lock:
            if self._active == 0:
                self._thresholds = gc.get_threshold()
                self._switch_interval = sys.getswitchinterval()
                gc.set_threshold(*RUN_THRESHOLDS)
                sys.setswitchinterval(RUN_SWITCH_INTERVAL_S)
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    gc.set_threshold(*self._thresholds)
                    sys.setswitchinterval(self._switch_interval)
                    # The middle generation, not walked during the run, is due at once: walk
                    # it now, before the run's end is published, rather than at whatever
                    # allocation comes next -- with many subscribers, amid the final event's
                    # fan-out.
                    gc.collect(1)


RUN_PACE = RunPace()
"""The process's one counter: every runner goes through it."""
