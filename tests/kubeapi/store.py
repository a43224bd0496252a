"""Object storage of the test double: objects, the resourceVersion counter, event history.

This plays etcd's role. Every write gets the next value of one global, monotonically
increasing resourceVersion and is appended to an event history, which watches replay and
`compact()` truncates (a watch from a compacted version gets 410 Expired). A stored object
is never changed in place: a write stores a new copy, so readers may share stored objects
(`select`, events) as long as they do not mutate them. Writers hold
`lock` (re-entrant, shared with `operations.py` for read-modify-write); subscribers are
called synchronously under it, in resourceVersion order, and must only hand the event off
(e.g. `loop.call_soon_threadsafe`), never block.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from .jsonutil import JsonObject, deep_copy, metadata

StorageKey: TypeAlias = tuple[str, str]  # (group, plural): versions of a resource share it
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True)
class StoredEvent:
    """One change. `object` and `previous` are shared with the store: treat as read-only."""

    resource_version: int
    key: StorageKey
    type: EventType
    object: JsonObject
    previous: JsonObject | None


Subscriber: TypeAlias = Callable[[StoredEvent], None]


class TooOld(Exception):
    """The requested resourceVersion is older than the compacted revision."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"too old resource version: {requested} ({compacted})")
        self.requested = requested
        self.compacted = compacted


def _sort_key(obj: JsonObject) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])


class ObjectStore:
    def __init__(self, *, max_history: int | None = None) -> None:
        self.lock = threading.RLock()
        self._objects: dict[StorageKey, dict[tuple[str, str], JsonObject]] = {}
        self._revision = 0
        self._history: deque[StoredEvent] = deque()
        self._compacted = 0
        # Bounding history mimics the watch cache window of a real API server.
        self._max_history = max_history
        self._subscribers: dict[int, Subscriber] = {}
        self._tokens = itertools.count(1)

    @property
    def resource_version(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        """Events at or below this resourceVersion are no longer in the history."""
        return self._compacted

    def get(self, key: StorageKey, namespace: str, name: str) -> JsonObject | None:
        with self.lock:
            obj = self._objects.get(key, {}).get((namespace, name))
            return deep_copy(obj) if obj is not None else None

    def select(
        self,
        key: StorageKey,
        namespace: str | None = None,
        matches: Callable[[JsonObject], bool] | None = None,
    ) -> list[JsonObject]:
        """The stored objects that `matches`, ordered by (namespace, name) like etcd keys.

        They are shared with the store, not copied (a LIST would otherwise copy the whole
        collection to return a few objects): read them or serialise them, and copy the
        ones that leave for code that may change them (`Operations.list` does).
        """
        with self.lock:
            objects = self._objects.get(key, {})
            found = [
                obj
                for (obj_namespace, _), obj in objects.items()
                if (namespace is None or obj_namespace == namespace)
                and (matches is None or matches(obj))
            ]
        return sorted(found, key=_sort_key)

    def put(self, key: StorageKey, obj: JsonObject) -> JsonObject:
        """Store obj under a new resourceVersion: ADDED if new, MODIFIED otherwise."""
        with self.lock:
            meta = metadata(obj)
            slot = (meta.get("namespace", ""), meta["name"])
            previous = self._objects.get(key, {}).get(slot)
            stored = deep_copy(obj)
            self._revision += 1
            metadata(stored)["resourceVersion"] = str(self._revision)
            self._objects.setdefault(key, {})[slot] = stored
            self._record(key, "ADDED" if previous is None else "MODIFIED", stored, previous)
            return deep_copy(stored)

    def remove(
        self, key: StorageKey, namespace: str, name: str, last_state: JsonObject | None = None
    ) -> JsonObject | None:
        """Delete; the DELETED event carries the last state (by default the stored one,
        or `last_state` when an update is what triggered the deletion) under a new
        resourceVersion."""
        with self.lock:
            previous = self._objects.get(key, {}).pop((namespace, name), None)
            if previous is None:
                return None
            final = deep_copy(last_state if last_state is not None else previous)
            self._revision += 1
            metadata(final)["resourceVersion"] = str(self._revision)
            self._record(key, "DELETED", final, previous)
            return deep_copy(final)

    def drop_all(self, key: StorageKey) -> None:
        """Delete every object of a resource (its CRD went away), with DELETED events."""
        with self.lock:
            for namespace, name in list(self._objects.get(key, {})):
                self.remove(key, namespace, name)

    def events_after(self, resource_version: int) -> list[StoredEvent]:
        """History strictly after resource_version; TooOld if that part was compacted."""
        with self.lock:
            if resource_version < self._compacted:
                raise TooOld(resource_version, self._compacted)
            return [e for e in self._history if e.resource_version > resource_version]

    def compact(self) -> int:
        """Forget all history up to now, like an etcd compaction; returns the revision."""
        with self.lock:
            self._history.clear()
            self._compacted = self._revision
            return self._compacted

    def subscribe(self, subscriber: Subscriber) -> int:
        with self.lock:
            token = next(self._tokens)
            self._subscribers[token] = subscriber
            return token

    def unsubscribe(self, token: int) -> None:
        with self.lock:
            self._subscribers.pop(token, None)

    def _record(
        self, key: StorageKey, kind: EventType, obj: JsonObject, previous: JsonObject | None
    ) -> None:
        event = StoredEvent(self._revision, key, kind, obj, previous)
        self._history.append(event)
        if self._max_history is not None and len(self._history) > self._max_history:
            self._compacted = self._history.popleft().resource_version
        for subscriber in list(self._subscribers.values()):
            subscriber(event)
