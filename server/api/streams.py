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
    """Items of ``source`` until it ends or ``shutdown`` is set, whichever comes first."""
    stop = asyncio.ensure_future(shutdown.wait())
    try:
        while True:
            item = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({item, stop}, return_when=asyncio.FIRST_COMPLETED)
            if item not in done:
                item.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await item
                return
            try:
                yield item.result()
            except StopAsyncIteration:
                return
    finally:
        stop.cancel()
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
