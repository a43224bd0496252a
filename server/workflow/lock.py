"""Target locks and remediation cooldown: may this execution run on its target now?

The reconciler asks :meth:`TargetLockManager.acquire` before it starts a PipelineRun, then
:meth:`TargetLockManager.recent_remediation` while it holds the lock, and calls
:meth:`TargetLockManager.release` once the execution is terminal or deleted.

**The lock** is a ``coordination.k8s.io/v1`` Lease in the execution namespace whose name is
a hash of (cluster id, target), so every replica computes the same object and the API server
arbitrates: create succeeds (acquired) or returns AlreadyExists (held). The holder identity
is the WorkflowExecution's uid; annotations record its namespace/name, workflow id and
target, which fill ``skipDetails.conflictingWorkflow``. The same uid finding its own Lease
(a restart after acquiring) holds it again. A Lease whose holder no longer exists (deleted,
or re-created with another uid) or is already terminal is reclaimed with a conditional
update (resourceVersion) so two reclaimers cannot both win; release is a delete with a
resourceVersion precondition so it never removes a Lease someone else has just reclaimed.
Together these mean no lock can stay stuck. A Lease under our name that records another
target (a hash collision) is never treated as a workflow failure: :class:`LockNameCollision`
is raised and the reconciler retries later.

**The cooldown** is computed from recorded history, not by keeping the lock: the reconciler
labels every execution it admits with its target hash and workflow id, and the history is
the terminal (Completed/Failed) executions with those labels that actually ran (have a
``startTime``), with their ``completionTime``. We chose the WorkflowExecutions themselves
over PipelineRuns or a side table because they are the records the audit trail and the user
see, they carry the outcome and completion time we report in ``recentRemediation``, and
they survive PipelineRun pruning. The check runs *after* the lock is acquired and lists with
a quorum read: the previous holder wrote its terminal status before releasing, so the new
holder always sees it. Executions deleted from the cluster leave the history (document
retention accordingly). A cooldown of zero disables the check.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from assay.server.core.clock import Clock
from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeAlreadyExists, KubeNotFound, KubePathError
from assay.server.kube.resources import LEASES
from assay.server.kube.times import format_micro_time, parse_time
from assay.server.workflow.model import (
    ANNOTATION_EXECUTION,
    ANNOTATION_STARTED_AT,
    ANNOTATION_TARGET,
    ANNOTATION_WORKFLOW_ID,
    LABEL_MANAGED_BY,
    LABEL_TARGET_HASH,
    LABEL_WORKFLOW_ID,
    MANAGED_BY,
    WORKFLOW_EXECUTIONS,
    KubeObject,
    Phase,
    meta,
    phase_of,
    spec_of,
    status_of,
    workflow_id_of,
)
from assay.server.workflow.naming import lock_lease_name, sanitize_label_value, target_hash
from assay.server.workflow.phase import is_terminal


class LockNameCollision(Exception):
    """Our Lease name is held for a different target (a hash collision): retry later."""


class LockOutcome(enum.StrEnum):
    ACQUIRED = "acquired"  # created, re-entered, or reclaimed from a dead/finished holder
    BUSY = "busy"  # another live execution holds the target


class ReleaseOutcome(enum.StrEnum):
    RELEASED = "released"
    NOT_HELD = "not_held"  # no Lease, or it belongs to another execution now


@dataclass(frozen=True)
class LockHolder:
    uid: str
    namespace: str
    name: str
    workflow_id: str
    started_at: datetime | None


@dataclass(frozen=True)
class AcquireResult:
    outcome: LockOutcome
    lease_name: str
    holder: LockHolder | None = None  # the other holder when BUSY
    reclaimed_from: LockHolder | None = None  # the dead/finished holder we replaced


@dataclass(frozen=True)
class RecentExecution:
    """The latest finished run of the same workflow on the same target, inside the cooldown."""

    namespace: str
    name: str
    workflow_id: str
    completed_at: datetime
    outcome: Phase
    cooldown_remaining: timedelta


def _holder_of(lease: KubeObject) -> LockHolder:
    annotations = meta(lease).get("annotations") or {}
    namespace, _, name = str(annotations.get(ANNOTATION_EXECUTION, "")).partition("/")
    return LockHolder(
        uid=str((lease.get("spec") or {}).get("holderIdentity") or ""),
        namespace=namespace,
        name=name,
        workflow_id=str(annotations.get(ANNOTATION_WORKFLOW_ID, "")),
        started_at=parse_time(annotations.get(ANNOTATION_STARTED_AT)),
    )


def history_labels(wfe: KubeObject) -> dict[str, str]:
    """The labels the reconciler puts on every execution it admits, for the cooldown history."""
    return {
        LABEL_TARGET_HASH: target_hash(str(spec_of(wfe).get("targetResource", ""))),
        LABEL_WORKFLOW_ID: sanitize_label_value(workflow_id_of(wfe)),
    }


def history_selector(wfe: KubeObject) -> str:
    """Label selector of the executions of ``wfe``'s workflow on ``wfe``'s target."""
    return ",".join(f"{key}={value}" for key, value in history_labels(wfe).items())


class TargetLockManager:
    """Lease-based target locks plus the history-based cooldown check."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        namespace: str,
        cluster_id: str,
        cooldown: timedelta,
        clock: Clock,
        history_namespace: str | None = None,
    ) -> None:
        self._kube = kube
        self._namespace = namespace
        self._cluster_id = cluster_id
        self._cooldown = cooldown
        self._clock = clock
        self._history_namespace = history_namespace

    def lease_name(self, target: str) -> str:
        return lock_lease_name(cluster_id=self._cluster_id, target=target)

    def _lease_body(self, wfe: KubeObject, existing: KubeObject | None) -> KubeObject:
        m = meta(wfe)
        spec = spec_of(wfe)
        target = str(spec.get("targetResource", ""))
        now = format_micro_time(self._clock.now())
        body: KubeObject = (
            existing.copy()
            if existing
            else {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.lease_name(target), "namespace": self._namespace},
            }
        )
        metadata = dict(body.get("metadata") or {})
        metadata["labels"] = {
            LABEL_MANAGED_BY: MANAGED_BY,
            LABEL_TARGET_HASH: target_hash(target),
        }
        metadata["annotations"] = {
            ANNOTATION_TARGET: target,
            ANNOTATION_EXECUTION: f"{m.get('namespace', '')}/{m.get('name', '')}",
            ANNOTATION_WORKFLOW_ID: workflow_id_of(wfe),
            ANNOTATION_STARTED_AT: now,
        }
        body["metadata"] = metadata
        body["spec"] = {
            "holderIdentity": str(m.get("uid", "")),
            "acquireTime": now,
            "renewTime": now,
        }
        return body

    async def _holder_gone_or_done(self, holder: LockHolder) -> bool:
        if not holder.namespace or not holder.name:
            return True
        try:
            obj = await self._kube.get(WORKFLOW_EXECUTIONS, holder.namespace, holder.name)
        except (KubeNotFound, KubePathError):  # a Lease annotation that names no execution
            return True
        if str(meta(obj).get("uid", "")) != holder.uid:
            return True
        return is_terminal(phase_of(obj))

    async def acquire(self, wfe: KubeObject) -> AcquireResult:
        """Take the lock on ``wfe``'s target, or report who holds it."""
        target = str(spec_of(wfe).get("targetResource", ""))
        uid = str(meta(wfe).get("uid", ""))
        name = self.lease_name(target)

        async def attempt() -> AcquireResult:
            try:
                await self._kube.create(LEASES, self._namespace, self._lease_body(wfe, None))
                return AcquireResult(LockOutcome.ACQUIRED, name)
            except KubeAlreadyExists:
                pass
            # NotFound here: released between our create and get; the retry looks again.
            lease = await self._kube.get(LEASES, self._namespace, name)
            annotations = meta(lease).get("annotations") or {}
            if annotations.get(ANNOTATION_TARGET, target) != target:
                raise LockNameCollision(f"Lease {self._namespace}/{name} locks another target")
            holder = _holder_of(lease)
            if holder.uid == uid:
                return AcquireResult(LockOutcome.ACQUIRED, name)
            if not await self._holder_gone_or_done(holder):
                return AcquireResult(LockOutcome.BUSY, name, holder=holder)
            # A conflict or NotFound: someone else changed it first; the retry looks again.
            await self._kube.replace(LEASES, self._namespace, name, self._lease_body(wfe, lease))
            return AcquireResult(LockOutcome.ACQUIRED, name, reclaimed_from=holder)

        return await self._kube.conflicts.run(
            attempt, what=f"Lease {self._namespace}/{name}", also=(KubeNotFound,)
        )

    async def release(self, wfe: KubeObject) -> ReleaseOutcome:
        """Drop the lock if ``wfe`` still holds it (idempotent)."""
        target = str(spec_of(wfe).get("targetResource", ""))
        uid = str(meta(wfe).get("uid", ""))
        name = self.lease_name(target)

        async def attempt() -> ReleaseOutcome:
            try:
                lease = await self._kube.get(LEASES, self._namespace, name)
                if _holder_of(lease).uid != uid:
                    return ReleaseOutcome.NOT_HELD
                rv = str(meta(lease).get("resourceVersion", "")) or None
                await self._kube.delete(LEASES, self._namespace, name, resource_version=rv)
            except KubeNotFound:
                return ReleaseOutcome.NOT_HELD
            return ReleaseOutcome.RELEASED

        return await self._kube.conflicts.run(attempt, what=f"Lease {self._namespace}/{name}")

    async def holder(self, target: str) -> LockHolder | None:
        """Who holds ``target`` right now (None when free)."""
        try:
            lease = await self._kube.get(LEASES, self._namespace, self.lease_name(target))
        except KubeNotFound:
            return None
        return _holder_of(lease)

    async def recent_remediation(self, wfe: KubeObject) -> RecentExecution | None:
        """The run that puts ``wfe`` in cooldown, if any (None when cooldown is 0)."""
        if self._cooldown <= timedelta(0):
            return None
        spec = spec_of(wfe)
        target = str(spec.get("targetResource", ""))
        workflow_id = workflow_id_of(wfe)
        uid = str(meta(wfe).get("uid", ""))
        listed = await self._kube.list(
            WORKFLOW_EXECUTIONS,
            self._history_namespace,
            label_selector=history_selector(wfe),
        )
        now = self._clock.now()
        latest: RecentExecution | None = None
        for other in listed.items:
            o_spec = spec_of(other)
            o_status = status_of(other)
            if str(meta(other).get("uid", "")) == uid:
                continue
            if o_spec.get("targetResource") != target:
                continue
            if workflow_id_of(other) != workflow_id:
                continue
            phase = phase_of(other)
            if phase not in (Phase.COMPLETED, Phase.FAILED) or not o_status.get("startTime"):
                continue
            completed = parse_time(o_status.get("completionTime"))
            if completed is None:
                continue
            remaining = completed + self._cooldown - now
            if remaining <= timedelta(0):
                continue
            if latest is None or completed > latest.completed_at:
                latest = RecentExecution(
                    namespace=str(meta(other).get("namespace", "")),
                    name=str(meta(other).get("name", "")),
                    workflow_id=workflow_id,
                    completed_at=completed,
                    outcome=phase,
                    cooldown_remaining=remaining,
                )
        return latest
