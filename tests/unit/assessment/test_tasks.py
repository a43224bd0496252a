"""cancel_and_wait: stops a task without swallowing the caller's own cancellation."""

from __future__ import annotations

import asyncio

import pytest

from assay.server.assessment.tasks import cancel_and_wait


async def test_stops_the_task() -> None:
    task = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_the_callers_cancellation_propagates() -> None:
    cancelled = asyncio.Event()
    release = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            await release.wait()  # cleanup that outlasts the caller's patience
            raise

    task = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    stopper = asyncio.create_task(cancel_and_wait(task))
    await cancelled.wait()
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    release.set()
    await asyncio.wait({task})
    assert task.cancelled()


async def test_an_error_the_task_ended_with_is_raised() -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(broken())
    await asyncio.wait({task})
    with pytest.raises(RuntimeError, match="boom"):
        await cancel_and_wait(task)
