"""Reconcile one WorkflowExecution: a flat fetch / deletion / finalizer / switch-on-phase.

:meth:`Reconciler.reconcile` is called by the controller's queue workers with a
``namespace/name`` key, only on the leader. Every step is idempotent, so the worker simply
retries (with backoff) whatever raises::

    fetch (fresh GET; gone -> nothing to do)
    being deleted  -> delete the PipelineRun, release the lock, audit, drop the finalizer
    add finalizer + history labels
    no phase yet  -> write phase Pending (not a transition, no audit event)
    record the audit events the current status implies (crash recovery)
    Pending   -> invalid spec: Failed(ConfigurationError)
                 lock busy: Skipped(ResourceBusy)
                 in cooldown: Skipped(RecentlyRemediated)
                 else create (or adopt) the PipelineRun -> Running
    Running   -> PipelineRun gone: Failed(Unknown); Succeeded True/False: Completed/Failed
                 with FailureDetails; Unknown: mirror task progress
    terminal  -> release the lock if still held, audit lock_released

Crash safety comes from the order of writes: the lock (a Lease named after the target,
holder = uid) is taken before the PipelineRun (named after the execution) is created, and
both are re-entered/adopted on a retry; a status is written before the audit events and the
lock release it implies, and those are re-derived from the status on the next reconcile.
"""

from __future__ import annotations

import copy
import enum
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.server.core.clock import Clock
from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeAlreadyExists, KubeNotFound
from assay.server.kube.events import NORMAL, WARNING, EventRecorder
from assay.server.kube.times import format_time, parse_time
from assay.server.observability.workflow_metrics import WorkflowMetrics
from assay.server.workflow.audit import AuditEventType
from assay.server.workflow.errors import PipelineRunNameTaken
from assay.server.workflow.failure import (
    FailureContext,
    classify_failure,
    configuration_failure,
    pipelinerun_vanished,
)
from assay.server.workflow.lock import LockOutcome, TargetLockManager, history_labels
from assay.server.workflow.memory import RecentMap
from assay.server.workflow.model import (
    FINALIZER,
    PIPELINE_RUNS,
    TASK_RUNS,
    TEKTON_PIPELINERUN_LABEL,
    WORKFLOW_EXECUTIONS,
    ExecutionKey,
    FailureDetails,
    KubeObject,
    Phase,
    PipelineRunStatusSummary,
    SkipReason,
    meta,
    phase_of,
    spec_of,
    split_key,
    status_of,
    workflow_id_of,
)
from assay.server.workflow.phase import is_terminal
from assay.server.workflow.status import StatusWriter, set_condition
from assay.server.workflow.tekton import (
    belongs_to,
    build_pipelinerun,
    name_for,
    parse_pipelinerun,
    summarize,
)
from assay.server.workflow.timeutil import format_duration
from assay.server.workflow.trail import AuditTrail, implied_events, ran
from assay.server.workflow.validation import validate_spec

log = logging.getLogger(__name__)


class Action(enum.StrEnum):
    """What a reconcile did, for logs and tests."""

    NONE = "none"
    GONE = "gone"
    FINALIZED = "finalized"
    STARTED = "started"
    SKIPPED = "skipped"
    COMPLETED = "completed"
    FAILED = "failed"
    PROGRESS = "progress"
    SETTLED = "settled"


@dataclass(frozen=True)
class ReconcileResult:
    action: Action
    phase: Phase | None = None


@dataclass(frozen=True)
class ReconcilerConfig:
    execution_namespace: str
    default_service_account: str


class Reconciler:
    def __init__(
        self,
        *,
        kube: KubeClient,
        locks: TargetLockManager,
        audit: AuditTrail,
        events: EventRecorder,
        metrics: WorkflowMetrics,
        config: ReconcilerConfig,
        clock: Clock,
    ) -> None:
        self._kube = kube
        self._locks = locks
        self._audit = audit
        self._events = events
        self._metrics = metrics
        self._config = config
        self._clock = clock
        self._status = StatusWriter(kube)
        # Executions whose lock this process has released (or that never held it), and
        # the PipelineRun resourceVersion last mirrored per execution: both skip no-op calls.
        self._settled: RecentMap[bool] = RecentMap()
        self._mirrored: RecentMap[str] = RecentMap()

    def is_settled(self, uid: str) -> bool:
        """True when a terminal execution needs nothing more from this process."""
        return uid in self._settled

    async def reconcile(self, key: ExecutionKey) -> ReconcileResult:
        namespace, name = split_key(key)
        try:
            wfe = await self._kube.get(WORKFLOW_EXECUTIONS, namespace, name)
        except KubeNotFound:
            return ReconcileResult(Action.GONE)
        if meta(wfe).get("deletionTimestamp"):
            return await self._finalize(wfe)
        phase = phase_of(wfe)
        if not is_terminal(phase):
            wfe = await self._ensure_metadata(wfe)
        if phase is Phase.PENDING:
            wfe = (await self._status.mark_pending(wfe)).obj
            phase = phase_of(wfe)  # another writer may have moved it on meanwhile
        await self._audit.ensure(wfe, implied_events(wfe))
        if phase is Phase.PENDING:
            return await self._start(wfe)
        if phase is Phase.RUNNING:
            return await self._follow(wfe)
        return await self._settle(wfe)

    # -- metadata --------------------------------------------------------------------------

    async def _ensure_metadata(self, wfe: KubeObject) -> KubeObject:
        """Add our finalizer and the labels the cooldown history is selected by."""

        async def write(current: KubeObject) -> KubeObject:
            m = meta(current)
            wanted = history_labels(current)
            labels = dict(m.get("labels") or {})
            finalizers = list(m.get("finalizers") or [])
            if FINALIZER in finalizers and all(labels.get(k) == v for k, v in wanted.items()):
                return current
            new = copy.deepcopy(current)
            new_meta = new["metadata"]
            new_meta["labels"] = {**labels, **wanted}
            if FINALIZER not in finalizers:
                new_meta["finalizers"] = [*finalizers, FINALIZER]
            return await self._kube.replace(
                WORKFLOW_EXECUTIONS, m.get("namespace"), str(m.get("name")), new
            )

        return await self._kube.conflicts.update(
            wfe, write=write, reread=self._reread, what=f"metadata of {_name(wfe)}"
        )

    async def _remove_finalizer(self, wfe: KubeObject) -> None:
        async def write(current: KubeObject) -> None:
            m = meta(current)
            finalizers = [f for f in m.get("finalizers") or [] if f != FINALIZER]
            if finalizers == list(m.get("finalizers") or []):
                return
            new = copy.deepcopy(current)
            new["metadata"]["finalizers"] = finalizers
            await self._kube.replace(
                WORKFLOW_EXECUTIONS, m.get("namespace"), str(m.get("name")), new
            )

        try:
            await self._kube.conflicts.update(
                wfe, write=write, reread=self._reread, what=f"finalizers of {_name(wfe)}"
            )
        except KubeNotFound:
            return  # gone already: nothing holds it

    async def _reread(self, wfe: KubeObject) -> KubeObject:
        m = meta(wfe)
        return await self._kube.get(WORKFLOW_EXECUTIONS, m.get("namespace"), str(m.get("name")))

    # -- Pending ---------------------------------------------------------------------------

    def _failure_context(self, wfe: KubeObject, now: datetime) -> FailureContext:
        return FailureContext(
            workflow_id=workflow_id_of(wfe),
            target=str(spec_of(wfe).get("targetResource", "")),
            started_at=parse_time(status_of(wfe).get("startTime")),
            now=now,
        )

    async def _start(self, wfe: KubeObject) -> ReconcileResult:
        violations = validate_spec(wfe.get("spec"))
        if violations:
            message = "; ".join(f"{v.field}: {v.description}" for v in violations)
            now = self._clock.now()
            return await self._fail(
                wfe, configuration_failure(message, self._failure_context(wfe, now)), now
            )

        acquired = await self._locks.acquire(wfe)
        if acquired.outcome is LockOutcome.BUSY:
            holder = acquired.holder
            conflicting: dict[str, Any] = {}
            if holder is not None:
                conflicting = {
                    "name": holder.name,
                    "namespace": holder.namespace,
                    "workflowId": holder.workflow_id,
                }
                if holder.started_at is not None:
                    conflicting["startedAt"] = format_time(holder.started_at)
            who = f"{conflicting.get('namespace', '')}/{conflicting.get('name', '')}"
            self._settled.put(str(meta(wfe).get("uid", "")), True)  # it never held the lock
            return await self._skip(
                wfe,
                SkipReason.RESOURCE_BUSY,
                f"target {spec_of(wfe).get('targetResource')} is busy with execution {who} "
                f"(workflow {conflicting.get('workflowId', '')})",
                {"conflictingWorkflow": conflicting},
            )
        if acquired.reclaimed_from is not None:
            log.info(
                "lock %s reclaimed from %s/%s",
                acquired.lease_name,
                acquired.reclaimed_from.namespace,
                acquired.reclaimed_from.name,
            )

        recent = await self._locks.recent_remediation(wfe)
        if recent is not None:
            result = await self._skip(
                wfe,
                SkipReason.RECENTLY_REMEDIATED,
                f"workflow {recent.workflow_id} finished on this target at "
                f"{format_time(recent.completed_at)} ({recent.outcome}); cooldown ends in "
                f"{format_duration(recent.cooldown_remaining)}",
                {
                    "recentRemediation": {
                        "name": recent.name,
                        "namespace": recent.namespace,
                        "workflowId": recent.workflow_id,
                        "completedAt": format_time(recent.completed_at),
                        "outcome": recent.outcome.value,
                        "cooldownRemaining": format_duration(recent.cooldown_remaining),
                    }
                },
            )
            await self._locks.release(wfe)
            self._settled.put(str(meta(wfe).get("uid", "")), True)
            return result

        pr = await self._create_or_adopt_pipelinerun(wfe)
        now = self._clock.now()
        pr_ref = {"name": meta(pr)["name"], "namespace": meta(pr)["namespace"]}

        def to_running(status: dict[str, Any]) -> None:
            status["startTime"] = format_time(now)
            status["pipelineRunRef"] = pr_ref
            status["pipelineRunStatus"] = summarize(pr, [])
            set_condition(
                status,
                "PipelineRunCreated",
                "True",
                reason="Created",
                message=f"PipelineRun {pr_ref['namespace']}/{pr_ref['name']}",
                now=now,
            )
            set_condition(
                status,
                "Succeeded",
                "Unknown",
                reason="Running",
                message="PipelineRun running",
                now=now,
            )

        written = await self._status.transition(wfe, Phase.RUNNING, to_running)
        await self._audit.ensure(written.obj, implied_events(written.obj))
        return ReconcileResult(Action.STARTED, phase_of(written.obj))

    async def _create_or_adopt_pipelinerun(self, wfe: KubeObject) -> KubeObject:
        namespace = self._config.execution_namespace
        body = build_pipelinerun(
            wfe, namespace=namespace, default_service_account=self._config.default_service_account
        )
        try:
            created = await self._kube.create(PIPELINE_RUNS, namespace, body)
            self._metrics.pipelinerun_creations.inc()
            return created
        except KubeAlreadyExists:
            existing = await self._kube.get(PIPELINE_RUNS, namespace, meta(body)["name"])
            if not belongs_to(existing, wfe):
                await self._events.record(
                    wfe,
                    type_=WARNING,
                    reason="PipelineRunNameTaken",
                    message=f"PipelineRun {namespace}/{meta(body)['name']} exists and is not ours",
                )
                raise PipelineRunNameTaken(namespace, meta(body)["name"]) from None
            log.info("adopting PipelineRun %s/%s", namespace, meta(body)["name"])
            return existing

    async def _skip(
        self, wfe: KubeObject, reason: SkipReason, message: str, extra: dict[str, Any]
    ) -> ReconcileResult:
        now = self._clock.now()

        def to_skipped(status: dict[str, Any]) -> None:
            status["skipDetails"] = {
                "reason": reason.value,
                "message": message,
                "skippedAt": format_time(now),
                **extra,
            }
            status["completionTime"] = format_time(now)
            set_condition(status, "Skipped", "True", reason=reason.value, message=message, now=now)

        written = await self._status.transition(wfe, Phase.SKIPPED, to_skipped)
        if written.applied:
            self._metrics.skipped(reason.value)
            await self._events.record(
                written.obj, type_=NORMAL, reason=reason.value, message=message
            )
        await self._audit.ensure(written.obj, implied_events(written.obj))
        return ReconcileResult(Action.SKIPPED, phase_of(written.obj))

    # -- Running ---------------------------------------------------------------------------

    def _pipelinerun_of(self, wfe: KubeObject) -> tuple[str, str]:
        """Namespace and name of ``wfe``'s PipelineRun: the recorded ref, else the derived one."""
        ref = status_of(wfe).get("pipelineRunRef") or {}
        return (
            str(ref.get("namespace") or self._config.execution_namespace),
            str(ref.get("name") or name_for(wfe)),
        )

    async def _follow(self, wfe: KubeObject) -> ReconcileResult:
        pr_namespace, pr_name = self._pipelinerun_of(wfe)
        try:
            pr = await self._kube.get(PIPELINE_RUNS, pr_namespace, pr_name)
        except KubeNotFound:
            pr = None
        if pr is None or not belongs_to(pr, wfe):
            now = self._clock.now()
            details = pipelinerun_vanished(pr_namespace, pr_name, self._failure_context(wfe, now))
            return await self._fail(wfe, details, now)

        state = parse_pipelinerun(pr)
        uid = str(meta(wfe).get("uid", ""))
        pr_version = str(meta(pr).get("resourceVersion", ""))
        if state.phase is Phase.RUNNING and self._mirrored.get(uid) == pr_version:
            return ReconcileResult(Action.NONE, Phase.RUNNING)
        taskruns = (
            await self._kube.list(
                TASK_RUNS, pr_namespace, label_selector=f"{TEKTON_PIPELINERUN_LABEL}={pr_name}"
            )
        ).items
        summary = summarize(pr, taskruns)
        if state.phase is Phase.RUNNING:
            if status_of(wfe).get("pipelineRunStatus") != summary:

                def mirror(status: dict[str, Any]) -> None:
                    status["pipelineRunStatus"] = summary

                await self._status.update(wfe, Phase.RUNNING, mirror)
            self._mirrored.put(uid, pr_version)
            return ReconcileResult(Action.PROGRESS, Phase.RUNNING)

        now = self._clock.now()
        if state.phase is Phase.COMPLETED:
            return await self._complete(wfe, summary, now)
        details = classify_failure(pr, taskruns, self._failure_context(wfe, now))
        return await self._fail(wfe, details, now, summary=summary)

    def _finish_times(self, status: dict[str, Any], now: datetime) -> None:
        status["completionTime"] = format_time(now)
        started = parse_time(status.get("startTime"))
        if started is not None:
            status["duration"] = format_duration(now - started)

    async def _complete(
        self, wfe: KubeObject, summary: PipelineRunStatusSummary, now: datetime
    ) -> ReconcileResult:
        def to_completed(status: dict[str, Any]) -> None:
            self._finish_times(status, now)
            status["pipelineRunStatus"] = summary
            set_condition(
                status,
                "Succeeded",
                "True",
                reason="Completed",
                message="PipelineRun succeeded",
                now=now,
            )

        written = await self._status.transition(wfe, Phase.COMPLETED, to_completed)
        if written.applied:
            self._metrics.finished("completed", _duration_s(written.obj))
            await self._events.record(
                written.obj,
                type_=NORMAL,
                reason="Completed",
                message=f"workflow {workflow_id_of(written.obj)} completed on "
                f"{spec_of(written.obj).get('targetResource')} in "
                f"{status_of(written.obj).get('duration', '')}",
            )
        await self._audit.ensure(written.obj, implied_events(written.obj))
        await self._settle(written.obj)
        return ReconcileResult(Action.COMPLETED, phase_of(written.obj))

    async def _fail(
        self,
        wfe: KubeObject,
        details: FailureDetails,
        now: datetime,
        *,
        summary: PipelineRunStatusSummary | None = None,
    ) -> ReconcileResult:
        def to_failed(status: dict[str, Any]) -> None:
            self._finish_times(status, now)
            status["failureDetails"] = dict(details)
            if summary is not None:
                status["pipelineRunStatus"] = summary
            set_condition(
                status,
                "Succeeded",
                "False",
                reason=str(details.get("reason")),
                message=str(details.get("message", "")),
                now=now,
            )

        written = await self._status.transition(wfe, Phase.FAILED, to_failed)
        if written.applied:
            self._metrics.finished("failed", _duration_s(written.obj))
            await self._events.record(
                written.obj,
                type_=WARNING,
                reason=str(details.get("reason")),
                message=str(details.get("naturalLanguageSummary") or details.get("message")),
            )
        await self._audit.ensure(written.obj, implied_events(written.obj))
        await self._settle(written.obj)
        return ReconcileResult(Action.FAILED, phase_of(written.obj))

    # -- terminal --------------------------------------------------------------------------

    async def _settle(self, wfe: KubeObject) -> ReconcileResult:
        """Release the lock of a terminal execution (idempotent) and audit it once."""
        uid = str(meta(wfe).get("uid", ""))
        if uid in self._settled:
            return ReconcileResult(Action.NONE, phase_of(wfe))
        await self._locks.release(wfe)
        if ran(wfe):
            await self._audit.ensure(wfe, [AuditEventType.LOCK_RELEASED])
        self._settled.put(uid, True)
        self._mirrored.discard(uid)
        return ReconcileResult(Action.SETTLED, phase_of(wfe))

    # -- deletion --------------------------------------------------------------------------

    async def _finalize(self, wfe: KubeObject) -> ReconcileResult:
        if FINALIZER not in (meta(wfe).get("finalizers") or []):
            return ReconcileResult(Action.NONE, phase_of(wfe))
        pr_namespace, pr_name = self._pipelinerun_of(wfe)
        try:
            pr = await self._kube.get(PIPELINE_RUNS, pr_namespace, pr_name)
            if belongs_to(pr, wfe):
                await self._kube.delete(
                    PIPELINE_RUNS, pr_namespace, pr_name, uid=str(meta(pr).get("uid") or "") or None
                )
        except KubeNotFound:
            pass
        await self._locks.release(wfe)
        events = implied_events(wfe)
        if ran(wfe):
            events.append(AuditEventType.LOCK_RELEASED)
        events.append(AuditEventType.DELETED)
        await self._audit.ensure(wfe, events)
        await self._remove_finalizer(wfe)
        return ReconcileResult(Action.FINALIZED, phase_of(wfe))


def _name(wfe: KubeObject) -> str:
    m = meta(wfe)
    return f"WorkflowExecution {m.get('namespace', '')}/{m.get('name', '')}"


def _duration_s(wfe: KubeObject) -> float | None:
    status = status_of(wfe)
    started = parse_time(status.get("startTime"))
    completed = parse_time(status.get("completionTime"))
    if started is None or completed is None:
        return None
    return (completed - started).total_seconds()
