"""Watches: one watch request as a stream of decoded events, and a watcher that resumes.

:class:`WatchStream` reads the newline-delimited JSON of one ``?watch=true`` answer (the
client's ``watch()`` returns its events). Lines are split by the stream itself rather than
with aiohttp's ``readline``, whose line limit (128 KiB) a single large object exceeds. An
``ERROR`` event carrying a Status with code 410 becomes
:class:`~assay.server.kube.errors.KubeGone`, any other one the error for its code.

:class:`Watcher` follows a collection across many such requests: it remembers the last
resourceVersion it saw (bookmarks included), and when the server ends a watch (its
``timeoutSeconds``, a restart of the API server behind a load balancer) it opens the next
one from there, so no event is lost or repeated. It raises KubeGone when that version has
been compacted away; the caller re-lists (the informer does).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Final

import aiohttp

from assay.server.kube.codec import decode_json
from assay.server.kube.errors import KubeTransportError, error_for_status
from assay.server.kube.objects import EventType, WatchEvent
from assay.server.kube.settings import BackoffSettings

if TYPE_CHECKING:
    from assay.server.kube.client import KubeClient
    from assay.server.kube.resources import Resource

log = logging.getLogger(__name__)

MAX_EVENT_BYTES: Final = 64 * 1024 * 1024
"""One event larger than this ends the watch with a transport error (a runaway stream)."""

_CLIENT_GRACE_S = 30.0
"""How much longer than the server's timeoutSeconds the client waits before giving up."""

Opener = Callable[[str, Sequence[tuple[str, str]], float], Awaitable[aiohttp.ClientResponse]]


class WatchStream:
    """The events of one watch request, opened by ``opener(path, query, timeout_s)``."""

    def __init__(
        self, opener: Opener, path: str, query: Sequence[tuple[str, str]], timeout_s: float
    ) -> None:
        self._opener = opener
        self._path = path
        self._query = query
        self._timeout_s = timeout_s

    async def events(self) -> AsyncGenerator[WatchEvent, None]:
        response = await self._opener(self._path, self._query, self._timeout_s + _CLIENT_GRACE_S)
        try:
            buffer = bytearray()
            async for chunk in response.content.iter_any():
                buffer += chunk
                while (end := buffer.find(b"\n")) >= 0:
                    line = bytes(buffer[:end])
                    del buffer[: end + 1]
                    event = await self._decode(line)
                    if event is not None:
                        yield event
                if len(buffer) > MAX_EVENT_BYTES:
                    raise KubeTransportError(
                        f"watch {self._path}: an event exceeds {MAX_EVENT_BYTES} bytes"
                    )
            event = await self._decode(bytes(buffer))
            if event is not None:
                yield event
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise KubeTransportError(f"watch {self._path}: {type(exc).__name__}: {exc}") from exc
        finally:
            response.close()

    async def _decode(self, line: bytes) -> WatchEvent | None:
        if not line.strip():
            return None
        try:
            raw = await decode_json(line)
        except ValueError as exc:
            raise KubeTransportError(f"watch {self._path}: an event is not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise KubeTransportError(f"watch {self._path}: an event is not a JSON object")
        kind = str(raw.get("type") or "")
        obj = raw.get("object")
        obj = obj if isinstance(obj, dict) else {}
        if kind == "ERROR":
            code = obj.get("code")
            raise error_for_status(
                code if isinstance(code, int) and code >= 400 else 500,
                obj,
                method="WATCH",
                path=self._path,
            )
        try:
            return WatchEvent(EventType(kind), obj)
        except ValueError:
            log.debug("watch %s: ignoring an event of type %r", self._path, kind)
            return None


class Watcher:
    """Every change of a collection after ``resource_version``, across watch requests."""

    def __init__(
        self,
        kube: KubeClient,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str,
        label_selector: str | None = None,
        timeout_s: int = 300,
        backoff: BackoffSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._kube = kube
        self._resource = resource
        self._namespace = namespace
        self.resource_version = resource_version
        self._selector = label_selector
        self._timeout_s = timeout_s
        self._backoff = backoff or BackoffSettings()
        self._rng = rng or random.Random()
        self.requests = 0

    async def events(self) -> AsyncGenerator[WatchEvent, None]:
        """ADDED, MODIFIED and DELETED events until cancelled; bookmarks only move
        :attr:`resource_version`. Raises KubeGone when it is too old, and any other
        :class:`~assay.server.kube.errors.KubeError` the request meets."""
        empty_ends = 0
        while True:
            self.requests += 1
            stream = self._kube.watch(
                self._resource,
                self._namespace,
                resource_version=self.resource_version,
                label_selector=self._selector,
                # Jitter, so the watches of many replicas do not all reconnect at once.
                timeout_s=self._timeout_s + self._rng.randint(0, self._timeout_s // 10),
            )
            started = asyncio.get_running_loop().time()
            seen = 0
            async with aclosing(stream) as events:
                async for event in events:
                    seen += 1
                    if event.resource_version:
                        self.resource_version = event.resource_version
                    if event.type is not EventType.BOOKMARK:
                        yield event
            if seen or asyncio.get_running_loop().time() - started >= 1.0:
                empty_ends = 0
                continue
            # A watch that ends at once with nothing in it: do not spin.
            empty_ends += 1
            await asyncio.sleep(self._backoff.delay(empty_ends, self._rng))
