"""A bounded pool of daemon threads: one per kind of blocking work (inventory, checks, storage).

The composition root builds one :class:`DaemonExecutor` per kind, sized by the assessment
settings, so a kind that blocks (a slow file, a frozen database, checks that overrun) uses up
its own threads and never the ones another kind needs. Differences from
``concurrent.futures.ThreadPoolExecutor``:

- the threads are daemons and are not joined at interpreter exit, so a thread blocked in a
  read that never returns cannot hold the process past its shutdown grace;
- :meth:`DaemonExecutor.stall_s` tells how long the oldest queued call has waited for a thread
  (readiness reports a pool as saturated past a limit), and :attr:`busy` / :attr:`queued`
  expose the load.

``submit`` returns a ``concurrent.futures.Future``, so ``loop.run_in_executor`` works with it.
:func:`available_cores` tells how many cores a pool's size may count on.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# cgroup v2: the CPU quota of this process's group ("max 100000", or "200000 100000": two
# cores' worth of time per period), a container's CPU limit.
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by its cgroup's CPU quota (in
    a container with a CPU limit, the affinity still names every core of the node)."""
    try:
        with open(CGROUP_CPU_MAX) as quota:
            cpu_max = quota.read()
    except OSError:
        cpu_max = None
    return cores_within(len(os.sched_getaffinity(0)), cpu_max)


def cores_within(affinity: int, cpu_max: str | None) -> int:
    """``affinity`` cores capped by a cgroup ``cpu.max`` text (quota and period, rounded
    up to whole cores; "max" or no file: no cap), at least 1."""
    quota, _, period = (cpu_max or "max").strip().partition(" ")
    if quota == "max" or not quota.isdigit() or not period.isdigit() or int(period) == 0:
        return max(1, affinity)
    return max(1, min(affinity, math.ceil(int(quota) / int(period))))


class _Item:
    __slots__ = ("args", "fn", "future", "kwargs", "queued_at")

    def __init__(
        self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.queued_at = time.monotonic()


class DaemonExecutor(Executor):
    """At most ``size`` daemon threads, started on demand; calls beyond them wait in FIFO order."""

    def __init__(self, size: int, *, name: str) -> None:
        if size < 1:
            raise ValueError(f"a thread pool needs at least one thread, not {size}")
        self.size = size
        self.name = name
        self._queue: deque[_Item] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._threads = 0
        self._idle = 0
        self._busy = 0
        self._closed = False

    @property
    def busy(self) -> int:
        """Threads executing a call now."""
        return self._busy

    @property
    def queued(self) -> int:
        """Calls waiting for a thread."""
        return len(self._queue)

    def stall_s(self) -> float:
        """Seconds the oldest queued call has waited for a thread (0 when none waits)."""
        with self._lock:
            if not self._queue:
                return 0.0
            return time.monotonic() - self._queue[0].queued_at

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} threads are shut down")
            self._queue.append(_Item(future, fn, args, kwargs))
            if self._idle:
                self._ready.notify()
            elif self._threads < self.size:
                self._threads += 1
                threading.Thread(
                    target=self._work, name=f"assay-{self.name}-{self._threads}", daemon=True
                ).start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._idle += 1
                    self._ready.wait()
                    self._idle -= 1
                if not self._queue:  # closed and drained
                    self._threads -= 1
                    return
                item = self._queue.popleft()
                if not item.future.set_running_or_notify_cancel():
                    continue  # cancelled while queued
                self._busy += 1
            try:
                result = item.fn(*item.args, **item.kwargs)
            except BaseException as exc:
                item.future.set_exception(exc)
            else:
                item.future.set_result(result)
                # Not kept alive while the thread waits for its next call: a run's inventory
                # would outlive the run, into the collector's next walk of the heap.
                del result
            finally:
                with self._lock:
                    self._busy -= 1
                del item

    def shutdown(self, wait: bool = False, *, cancel_futures: bool = True) -> None:
        """Refuse new calls and cancel queued ones; running calls finish in the background
        (``wait`` is accepted for the Executor interface and ignored: a daemon thread blocked
        in a call must not hold up the caller)."""
        with self._lock:
            self._closed = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft().future.cancel()
            self._ready.notify_all()
