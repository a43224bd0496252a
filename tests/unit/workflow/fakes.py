"""In-memory stand-ins shared by the workflow unit and integration tests."""

from __future__ import annotations

import asyncio

from assay.server.workflow.audit import AuditEvent, AuditEventType


class InMemoryAuditSink:
    """An AuditSink that honours key uniqueness like the storage implementation must."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.attempts = 0
        self._keys: set[str] = set()
        self._lock = asyncio.Lock()

    async def record(self, event: AuditEvent) -> bool:
        async with self._lock:
            self.attempts += 1
            if event.key in self._keys:
                return False
            self._keys.add(event.key)
            self.events.append(event)
            return True

    def of(self, name: str) -> list[AuditEventType]:
        return [e.event_type for e in self.events if e.execution_name == name]

    def count(self, event_type: AuditEventType) -> int:
        return sum(1 for e in self.events if e.event_type is event_type)
