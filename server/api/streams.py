"""Server-streaming helpers: ending streams at shutdown, and sending pre-encoded messages.

- :class:`ShutdownCloser` ends the open WatchRun subscriptions when the server starts
  shutting down, so their streams end cleanly (status OK) on SIGTERM instead of being cut at
  the end of the grace period. One task watches the shutdown for every stream: a stream
  costs nothing per delivered event.
- :func:`until_shutdown` does the same for any async iterator, at the price of a task per
  item (the workflow Watch stream, which delivers a few phase changes).
- :func:`shared_bytes` is the response serializer of methods whose handler yields messages
  already serialized (once, for every subscriber) as bytes; see
  ``assessments.add_assessment_service``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Protocol, TypeVar

from google.protobuf.message import Message

T = TypeVar("T")


class Closeable(Protocol):
    def close(self) -> None: ...


class ShutdownCloser:
    """Closes what streams hold open (subscriptions) once ``shutdown`` is set."""

    def __init__(self, shutdown: asyncio.Event) -> None:
        self._shutdown = shutdown
        self._open: set[Closeable] = set()
        self._watcher: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def holding(self, resource: Closeable) -> Iterator[None]:
        """Close ``resource`` on the way out, or at shutdown if that comes first."""
        if self._shutdown.is_set():
            resource.close()
        else:
            self._open.add(resource)
            if self._watcher is None:
                self._watcher = asyncio.ensure_future(self._close_at_shutdown())
        try:
            yield
        finally:
            self._open.discard(resource)
            resource.close()

    async def _close_at_shutdown(self) -> None:
        await self._shutdown.wait()
        for resource in list(self._open):
            resource.close()


def shared_bytes(message: bytes | Message) -> bytes:
    """Serialize a response unless the handler already did (and shares the bytes)."""
    if isinstance(message, bytes):
        return message
    return message.SerializeToString()


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
