"""Audit trail records of WorkflowExecution transitions, and the port that stores them.

The reconciler writes exactly one :class:`AuditEvent` per transition; ``key`` is the
uniqueness key (execution uid + transition) so a retried status update never writes twice.
Storage implements :class:`AuditSink`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class AuditEventType(enum.StrEnum):
    PIPELINERUN_CREATED = "pipelinerun_created"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    DELETED = "deleted"
    LOCK_RELEASED = "lock_released"


@dataclass(frozen=True)
class AuditEvent:
    key: str
    event_type: AuditEventType
    execution_namespace: str
    execution_name: str
    execution_uid: str
    workflow_id: str
    workflow_version: str
    target: str
    phase: str
    occurred_at: datetime
    reason: str = ""
    message: str = ""
    correlation_id: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditQuery:
    execution_name: str | None = None
    execution_namespace: str | None = None
    target: str | None = None
    event_type: AuditEventType | None = None
    since: datetime | None = None
    limit: int = 50
    # Opaque token of the next page, from Page.next_page_token; "" for the first page.
    page_token: str = ""
    include_total: bool = False


class AuditSink(Protocol):
    async def record(self, event: AuditEvent) -> bool:
        """Store the event; False (and no second row) when its key was already recorded."""
