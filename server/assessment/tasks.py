"""Stopping a background task of the assessment layer; called by ``Scheduler.stop`` and
``RunLiveness.stop``."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and return once it has ended; raise the error it ended with, if any.

    Not ``task.cancel(); with suppress(CancelledError): await task``: that would also swallow
    a cancellation of the caller (a shutdown timeout) that arrives while it waits.
    """
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.result()
