"""Server-streaming helper: follow an async iterator until the server starts shutting down.

Used by WatchRun and Watch so that open streams end cleanly (status OK) on SIGTERM instead of
being cut at the end of the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")


async def until_shutdown(source: AsyncIterator[T], shutdown: asyncio.Event) -> AsyncIterator[T]:
    """Items of ``source`` until it ends or ``shutdown`` is set, whichever comes first.

    The source is closed on the way out, also when the consumer goes away (the RPC is
    cancelled), so its subscriptions are released.
    """
    stop = asyncio.ensure_future(shutdown.wait())
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            pending = asyncio.ensure_future(anext(source))
            await asyncio.wait({pending, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not pending.done():
                return
            item, pending = pending, None
            try:
                value = item.result()
            except StopAsyncIteration:
                return
            yield value
    finally:
        stop.cancel()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
