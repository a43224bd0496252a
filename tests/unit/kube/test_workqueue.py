"""The work queue: dedup, one worker per key, re-queue while in flight, backoff."""

from __future__ import annotations

import asyncio
import random

import pytest

from assay.server.kube.settings import BackoffSettings
from assay.server.kube.workqueue import QueueShutDown, WorkQueue

A = "ns/a"
B = "ns/b"
FAST = BackoffSettings(initial_s=0.001, max_s=0.004, factor=2.0)


async def test_adds_are_deduplicated_while_waiting() -> None:
    depths: list[int] = []
    q = WorkQueue[str](FAST, on_depth=depths.append)
    q.add(A)
    q.add(A)
    q.add(B)
    assert len(q) == 2
    assert await q.get() == A
    assert await q.get() == B
    assert depths[-1] == 0


async def test_key_added_while_processing_is_requeued_after_done() -> None:
    q = WorkQueue[str](FAST)
    q.add(A)
    key = await q.get()
    q.add(A)  # a change arrives while a worker holds A
    assert len(q) == 0  # not handed to a second worker
    q.done(key)
    assert len(q) == 1
    assert await q.get() == A


async def test_get_waits_for_an_add() -> None:
    q = WorkQueue[str](FAST)
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add(B)
    async with asyncio.timeout(1):
        assert await getter == B


async def test_retry_backs_off_and_forget_resets() -> None:
    q = WorkQueue[str](BackoffSettings(initial_s=0.01, max_s=0.08), rng=random.Random(1))
    delays = [q.retry(A) for _ in range(5)]
    assert all(0.005 <= d <= 0.08 for d in delays)
    assert delays[3] >= 0.04  # 4th attempt: base 0.08 -> at least half of it
    async with asyncio.timeout(1):
        assert await q.get() == A
    q.done(A)
    q.forget(A)
    assert q.retry(A) <= 0.01


async def test_shutdown_wakes_waiters() -> None:
    q = WorkQueue[str](FAST)
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(QueueShutDown):
        async with asyncio.timeout(1):
            await getter
    q.add(A)
    assert len(q) == 0


async def test_cancelled_waiter_passes_its_wakeup_on() -> None:
    q = WorkQueue[str](FAST)
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add(A)  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    async with asyncio.timeout(1):
        assert await second == A
    with pytest.raises(asyncio.CancelledError):
        await first


def test_backoff_grows_and_caps() -> None:
    b = BackoffSettings(initial_s=1, max_s=8, factor=2)
    rng = random.Random(0)
    for attempt, base in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        d = b.delay(attempt, rng)
        assert base / 2 <= d <= base
