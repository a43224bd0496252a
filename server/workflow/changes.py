"""Fan-out of WorkflowExecution phase changes to live subscribers (the gRPC Watch stream).

The controller's WorkflowExecution informer calls :meth:`PhaseChanges.publish` for every
object it sees appear, change phase or disappear; :meth:`PhaseChanges.subscribe` hands a
subscriber the current phase of every matching execution first (so a late subscriber knows
where things stand) and then each change, in order. A subscriber that falls more than
``buffer`` changes behind is ended with :class:`~assay.server.core.errors.Unavailable` rather
than slowing the informer down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from assay.server.core.errors import Unavailable
from assay.server.workflow.model import KubeObject, Phase, meta, phase_of


@dataclass(frozen=True)
class PhaseChange:
    """One execution entering a phase (or disappearing, ``deleted=True``)."""

    namespace: str
    name: str
    uid: str
    phase: Phase
    previous_phase: Phase | None
    deleted: bool
    object: KubeObject

    @classmethod
    def of(cls, obj: KubeObject, previous: Phase | None, *, deleted: bool = False) -> PhaseChange:
        m = meta(obj)
        return cls(
            namespace=str(m.get("namespace", "")),
            name=str(m.get("name", "")),
            uid=str(m.get("uid", "")),
            phase=phase_of(obj),
            previous_phase=previous,
            deleted=deleted,
            object=obj,
        )


_END = None


@dataclass(eq=False)
class _Subscriber:
    namespace: str | None
    name: str | None
    queue: asyncio.Queue[PhaseChange | None]
    overflowed: bool = False

    def wants(self, change: PhaseChange) -> bool:
        if self.namespace is not None and change.namespace != self.namespace:
            return False
        return self.name is None or change.name == self.name


class PhaseChanges:
    def __init__(self, *, buffer: int = 1024) -> None:
        self._buffer = buffer
        self._subscribers: set[_Subscriber] = set()
        self._closed = False

    def publish(self, change: PhaseChange) -> None:
        for sub in list(self._subscribers):
            if sub.overflowed or not sub.wants(change):
                continue
            try:
                sub.queue.put_nowait(change)
            except asyncio.QueueFull:
                sub.overflowed = True

    def close(self) -> None:
        """End every subscription (controller shutdown)."""
        self._closed = True
        for sub in list(self._subscribers):
            sub.overflowed = False
            while True:
                try:
                    sub.queue.put_nowait(_END)
                    break
                except asyncio.QueueFull:
                    sub.queue.get_nowait()

    async def subscribe(
        self,
        snapshot: Iterable[KubeObject],
        *,
        namespace: str | None = None,
        name: str | None = None,
    ) -> AsyncIterator[PhaseChange]:
        """Current phases of matching executions, then every later change."""
        if self._closed:
            return
        sub = _Subscriber(namespace, name, asyncio.Queue(self._buffer + 1))
        self._subscribers.add(sub)
        last: dict[str, Phase] = {}
        try:
            for obj in list(snapshot):
                change = PhaseChange.of(obj, None)
                if sub.wants(change):
                    last[change.uid] = change.phase
                    yield change
            while True:
                if sub.overflowed:
                    raise Unavailable("watch subscriber fell behind; re-subscribe")
                item = await sub.queue.get()
                if item is _END:
                    return
                if not item.deleted and last.get(item.uid) is item.phase:
                    continue
                last[item.uid] = item.phase
                yield item
        finally:
            self._subscribers.discard(sub)
