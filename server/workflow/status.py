"""Status writes through the status subresource, with the phase machine and conflict retries.

The reconciler describes a change as a function that edits a copy of ``status``;
:meth:`StatusWriter.transition` checks the phase machine, PUTs ``/status`` with the
object's resourceVersion, and on 409 re-reads the object and re-applies the same change to
the fresh copy. If the fresh copy is already in the target phase (another writer won),
nothing is written and the result says so, so the caller does not count, audit or announce
the transition a second time. :meth:`StatusWriter.update` does the same for in-phase
updates (mirroring PipelineRun progress) and gives up when the phase has moved on, and
:meth:`StatusWriter.mark_pending` writes the initial phase on an execution that has none.
The re-read-and-retry loop is the client's :class:`~assay.server.kube.retry.ConflictRetry`.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.server.kube.client import KubeClient
from assay.server.kube.times import format_time
from assay.server.workflow.model import (
    WORKFLOW_EXECUTIONS,
    KubeObject,
    Phase,
    meta,
    phase_of,
    status_of,
)
from assay.server.workflow.phase import check_transition

StatusEdit = Callable[[dict[str, Any]], None]


class WriteOutcome(enum.StrEnum):
    APPLIED = "applied"  # this call wrote the change
    ALREADY = "already"  # the object was already there (someone else wrote it)
    STALE = "stale"  # update(): the phase moved on, the change no longer applies


@dataclass(frozen=True)
class WriteResult:
    outcome: WriteOutcome
    obj: KubeObject

    @property
    def applied(self) -> bool:
        return self.outcome is WriteOutcome.APPLIED


def set_condition(
    status: dict[str, Any],
    type_: str,
    value: str,
    *,
    reason: str,
    message: str,
    now: datetime,
) -> None:
    """Upsert a condition; ``lastTransitionTime`` moves only when the status value changes."""
    conditions: list[dict[str, Any]] = [
        c for c in status.get("conditions") or [] if isinstance(c, dict)
    ]
    for cond in conditions:
        if cond.get("type") == type_:
            if cond.get("status") != value:
                cond["lastTransitionTime"] = format_time(now)
            cond.update(status=value, reason=reason, message=message)
            break
    else:
        conditions.append(
            {
                "type": type_,
                "status": value,
                "reason": reason,
                "message": message,
                "lastTransitionTime": format_time(now),
            }
        )
    status["conditions"] = conditions


class StatusWriter:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def _put(self, obj: KubeObject, edit: StatusEdit) -> KubeObject:
        new = copy.deepcopy(obj)
        status = new.get("status")
        if not isinstance(status, dict):
            status = {}
            new["status"] = status
        edit(status)
        m = meta(new)
        return await self._kube.replace_status(
            WORKFLOW_EXECUTIONS, str(m.get("namespace", "")), str(m.get("name", "")), new
        )

    async def _reread(self, obj: KubeObject) -> KubeObject:
        m = meta(obj)
        return await self._kube.get(
            WORKFLOW_EXECUTIONS, str(m.get("namespace", "")), str(m.get("name", ""))
        )

    async def transition(self, obj: KubeObject, target: Phase, edit: StatusEdit) -> WriteResult:
        """Move ``obj`` to ``target`` applying ``edit``; raises InvalidTransition if illegal."""

        def apply(status: dict[str, Any]) -> None:
            edit(status)
            status["phase"] = target.value

        async def write(current: KubeObject) -> WriteResult:
            if phase_of(current) is target and current.get("status", {}).get("phase") == target:
                return WriteResult(WriteOutcome.ALREADY, current)
            check_transition(phase_of(current), target)
            return WriteResult(WriteOutcome.APPLIED, await self._put(current, apply))

        return await self._kube.conflicts.update(
            obj, write=write, reread=self._reread, what=f"status of {_name(obj)}"
        )

    async def mark_pending(self, obj: KubeObject) -> WriteResult:
        """Write ``phase: Pending`` on an execution whose status has no valid phase yet.

        Not a transition: :func:`phase_of` reads a missing phase as Pending already; this
        makes that phase visible to whoever reads the object (``kubectl get``). It writes
        nothing when the object (re-read after a conflict) carries a phase, whoever wrote
        it, so it never moves an execution backwards.
        """

        def apply(status: dict[str, Any]) -> None:
            status["phase"] = Phase.PENDING.value

        async def write(current: KubeObject) -> WriteResult:
            if status_of(current).get("phase") == phase_of(current).value:
                return WriteResult(WriteOutcome.ALREADY, current)
            return WriteResult(WriteOutcome.APPLIED, await self._put(current, apply))

        return await self._kube.conflicts.update(
            obj, write=write, reread=self._reread, what=f"status of {_name(obj)}"
        )

    async def update(self, obj: KubeObject, phase: Phase, edit: StatusEdit) -> WriteResult:
        """Apply ``edit`` while the object stays in ``phase`` (no transition)."""

        async def write(current: KubeObject) -> WriteResult:
            if phase_of(current) is not phase:
                return WriteResult(WriteOutcome.STALE, current)
            return WriteResult(WriteOutcome.APPLIED, await self._put(current, edit))

        return await self._kube.conflicts.update(
            obj, write=write, reread=self._reread, what=f"status of {_name(obj)}"
        )


def _name(obj: KubeObject) -> str:
    m = meta(obj)
    return f"WorkflowExecution {m.get('namespace', '')}/{m.get('name', '')}"
