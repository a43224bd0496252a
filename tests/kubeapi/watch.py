"""`?watch=true` streams: newline-delimited JSON watch events with API-server semantics.

* no resourceVersion (or "0"): synthetic ADDED for every current object, then live events;
* resourceVersion=N: the history after N, then live events; N older than the compaction
  horizon gets one ERROR event carrying a 410 Expired Status and the stream ends, exactly
  what a real API server sends once etcd has compacted;
* label/field selectors apply to events, including transitions: an object that stops
  matching is reported DELETED, one that starts matching ADDED;
* allowWatchBookmarks=true adds periodic BOOKMARK events; timeoutSeconds ends the stream.

`WatchHub` tracks open streams so that stopping the double ends them promptly.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from aiohttp import web

from .jsonutil import JsonObject
from .operations import Operations
from .resources import ResourceType
from .selectors import FieldSelector, LabelSelector
from .status import bad_request, expired
from .store import StoredEvent, TooOld

_Queue = asyncio.Queue[StoredEvent | None]


@dataclass(frozen=True)
class WatchRequest:
    resource: ResourceType
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    resource_version: str | None
    allow_bookmarks: bool
    timeout_seconds: float | None

    def matches(self, obj: JsonObject | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.labels.matches(obj) and self.fields.matches(obj)


class WatchHub:
    """The queues of open watch streams; `close_all` makes every stream finish."""

    def __init__(self) -> None:
        self._queues: set[_Queue] = set()

    def add(self, queue: _Queue) -> None:
        self._queues.add(queue)

    def discard(self, queue: _Queue) -> None:
        self._queues.discard(queue)

    def close_all(self) -> None:
        for queue in list(self._queues):
            queue.put_nowait(None)

    def __len__(self) -> int:
        return len(self._queues)


def _translate(watch: WatchRequest, event: StoredEvent) -> tuple[str, JsonObject] | None:
    """The event this watcher should see for a store change, if any."""
    if event.key != watch.resource.storage_key:
        return None
    now = watch.matches(event.object)
    before = watch.matches(event.previous)
    if event.type == "ADDED":
        return ("ADDED", event.object) if now else None
    if event.type == "DELETED":
        return ("DELETED", event.object) if now or before else None
    if now:
        return ("MODIFIED" if before else "ADDED", event.object)
    return ("DELETED", event.object) if before else None


def _parse_revision(value: str | None) -> int | None:
    """None means "current state first"; so does "0", per the API convention."""
    if value in (None, "", "0"):
        return None
    try:
        revision = int(value)
    except ValueError:
        raise bad_request(f"resourceVersion: Invalid value: {value!r}") from None
    if revision < 0:
        raise bad_request(f"resourceVersion: Invalid value: {value!r}")
    return revision


async def serve_watch(
    request: web.Request,
    ops: Operations,
    hub: WatchHub,
    watch: WatchRequest,
    bookmark_interval: float,
) -> web.StreamResponse:
    store, resource = ops.store, watch.resource
    revision = _parse_revision(watch.resource_version)
    loop = asyncio.get_running_loop()
    queue: _Queue = asyncio.Queue()

    def deliver(event: StoredEvent) -> None:
        # Called under the store lock, possibly from a test thread: hand off only.
        loop.call_soon_threadsafe(queue.put_nowait, event)

    first: list[tuple[str, JsonObject]] = []
    too_old: TooOld | None = None
    with store.lock:  # backlog + subscription atomically: no event is lost or repeated
        seen = max(store.resource_version, revision or 0)
        if revision is None:
            shared = store.select(resource.storage_key, watch.namespace, watch.matches)
            first = [("ADDED", obj) for obj in shared]
        else:
            try:
                backlog = store.events_after(revision)
            except TooOld as error:
                too_old = error
            else:
                first = [t for e in backlog if (t := _translate(watch, e)) is not None]
        token = None if too_old else store.subscribe(deliver)

    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)

    async def send(kind: str, obj: JsonObject) -> None:
        line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n"
        await response.write(line.encode())

    if too_old is not None:
        await send("ERROR", expired(str(too_old)).to_status())
        await response.write_eof()
        return response
    assert token is not None
    hub.add(queue)
    try:
        for kind, obj in first:
            await send(kind, ops.present(resource, obj))
        deadline = loop.time() + watch.timeout_seconds if watch.timeout_seconds else None
        next_bookmark = loop.time() + bookmark_interval if watch.allow_bookmarks else None
        while True:
            now = loop.time()
            if deadline is not None and now >= deadline:
                break
            wake = min((t for t in (deadline, next_bookmark) if t is not None), default=None)
            try:
                async with asyncio.timeout(None if wake is None else max(wake - now, 0)):
                    event = await queue.get()
            except TimeoutError:
                event = None
            else:
                if event is None:  # the double is stopping
                    break
                seen = event.resource_version
                if (translated := _translate(watch, event)) is not None:
                    await send(translated[0], ops.present(resource, translated[1]))
            if next_bookmark is not None and loop.time() >= next_bookmark:
                # Every store event passes through this queue, so `seen` is a revision
                # up to which this watcher has observed everything.
                await send("BOOKMARK", _bookmark(resource, seen))
                next_bookmark = loop.time() + bookmark_interval
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away; nothing left to tell it
    finally:
        hub.discard(queue)
        store.unsubscribe(token)
    return response


def _bookmark(resource: ResourceType, revision: int) -> JsonObject:
    return {
        "kind": resource.kind,
        "apiVersion": resource.api_version,
        "metadata": {"resourceVersion": str(revision)},
    }
