"""A deduplicating, rate-limited async work queue of keys (``namespace/name`` usually).

Informer handlers :meth:`~WorkQueue.add` keys; a controller's N workers loop on
:meth:`~WorkQueue.get` / :meth:`~WorkQueue.done`. Semantics (those of client-go's
workqueue):

* a key is queued at most once, however often it is added while it waits;
* a key is never processed by two workers at once: added while in flight, it is queued
  again when the worker calls ``done``, so the change is not lost;
* :meth:`~WorkQueue.retry` re-adds after an exponential, jittered delay that grows with the
  key's consecutive failures; :meth:`~WorkQueue.forget` resets that count on success.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from assay.server.kube.settings import BackoffSettings

K = TypeVar("K", bound=Hashable)


class QueueShutDown(Exception):
    """The queue was shut down; workers should return."""


class WorkQueue(Generic[K]):
    def __init__(
        self,
        backoff: BackoffSettings,
        *,
        on_depth: Callable[[int], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._backoff = backoff
        self._on_depth = on_depth or (lambda _: None)
        self._rng = rng or random.Random()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._failures: dict[K, int] = {}
        self._delayed: dict[K, asyncio.TimerHandle] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    def _depth_changed(self) -> None:
        self._on_depth(len(self._queue))

    def add(self, key: K) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._depth_changed()
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def add_after(self, key: K, delay: float) -> None:
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._delayed.get(key)
        when = loop.time() + delay
        if existing is not None:
            if existing.when() <= when:
                return
            existing.cancel()
        self._delayed[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: K) -> None:
        self._delayed.pop(key, None)
        self.add(key)

    def retry(self, key: K) -> float:
        """Re-add after a backoff that grows with consecutive failures; returns the delay."""
        attempts = self._failures.get(key, 0) + 1
        self._failures[key] = attempts
        delay = self._backoff.delay(attempts, self._rng)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    async def get(self) -> K:
        """The next key to process (marks it in flight); raises QueueShutDown at the end."""
        while not self._queue:
            if self._shutdown:
                raise QueueShutDown
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # pass on the wake-up we will not use
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        self._depth_changed()
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty and not self._shutdown:
            self._queue.append(key)
            self._depth_changed()
            self._wake_one()

    def pending(self) -> int:
        """Keys queued, delayed or in flight (0 means idle)."""
        return len(self._queue) + len(self._delayed) + len(self._processing)

    def shutdown(self) -> None:
        self._shutdown = True
        for handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        self._queue.clear()
        self._dirty.clear()
        self._depth_changed()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
