"""The workflow controller: the facade the gRPC layer calls, and the reconciler's runtime.

The composition root builds one :class:`WorkflowController`, ``await start()``s it and
``await stop()``s it on shutdown. Every replica runs the two informers (WorkflowExecutions,
and PipelineRuns with our managed-by label), which keep the cache that feeds
:meth:`WorkflowController.watch`; only the elected leader runs the work queue and its
``workers`` reconcile tasks. The gRPC servicer uses :meth:`create`, :meth:`get`,
:meth:`list` and :meth:`watch`, which speak plain dicts and :class:`PhaseChange` and raise
only :mod:`assay.server.core.errors` types.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

from assay.server.core.clock import SYSTEM_CLOCK, Clock
from assay.server.core.errors import FailedPrecondition
from assay.server.core.errors import Unavailable as UnavailableError
from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeError, domain_error
from assay.server.kube.events import EventRecorder
from assay.server.kube.informer import DELETED, Informer, cache_key
from assay.server.kube.leader import LeaderElector
from assay.server.kube.objects import EventType
from assay.server.kube.workqueue import QueueShutDown, WorkQueue
from assay.server.observability.workflow_metrics import WorkflowMetrics
from assay.server.workflow.audit import AuditSink
from assay.server.workflow.changes import PhaseChange, PhaseChanges
from assay.server.workflow.lock import TargetLockManager
from assay.server.workflow.model import (
    ANNOTATION_REQUESTED_BY,
    API_VERSION,
    KIND,
    LABEL_MANAGED_BY,
    MANAGED_BY,
    PIPELINE_RUNS,
    WORKFLOW_EXECUTIONS,
    ExecutionKey,
    KubeObject,
    Phase,
    meta,
    phase_of,
    spec_of,
    workflow_id_of,
)
from assay.server.workflow.phase import is_terminal
from assay.server.workflow.reconciler import Reconciler, ReconcilerConfig
from assay.server.workflow.settings import WorkflowSettings
from assay.server.workflow.tekton import execution_of
from assay.server.workflow.trail import AuditTrail
from assay.server.workflow.validation import ensure_valid_spec

log = logging.getLogger(__name__)

_STOP_GRACE_S = 5.0


class WorkflowController:
    def __init__(
        self,
        *,
        kube: KubeClient,
        settings: WorkflowSettings,
        cluster_id: str,
        audit: AuditSink,
        metrics: WorkflowMetrics,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._metrics = metrics
        self._kube = kube
        watch_namespace = settings.watch_namespace or None  # empty: every namespace
        self.locks = TargetLockManager(
            self._kube,
            namespace=settings.namespace,
            cluster_id=cluster_id,
            cooldown=timedelta(seconds=settings.cooldown_s),
            clock=self._clock,
            history_namespace=watch_namespace,
        )
        self.reconciler = Reconciler(
            kube=self._kube,
            locks=self.locks,
            audit=AuditTrail(audit, clock=self._clock),
            events=EventRecorder(
                self._kube,
                component=MANAGED_BY,
                clock=self._clock,
                instance=settings.leader_election.identity,
            ),
            metrics=metrics,
            config=ReconcilerConfig(
                execution_namespace=settings.namespace,
                default_service_account=settings.default_service_account,
            ),
            clock=self._clock,
        )
        self._changes = PhaseChanges()
        self.executions = Informer(
            self._kube,
            WORKFLOW_EXECUTIONS,
            self._on_execution,
            namespace=watch_namespace,
            backoff=settings.backoff,
            watch_timeout_s=settings.watch_timeout_s,
            name="workflowexecutions",
            on_recovered=self._on_api_back,
        )
        self.pipelineruns = Informer(
            self._kube,
            PIPELINE_RUNS,
            self._on_pipelinerun,
            namespace=settings.namespace,
            label_selector=f"{LABEL_MANAGED_BY}={MANAGED_BY}",
            backoff=settings.backoff,
            watch_timeout_s=settings.watch_timeout_s,
            name="pipelineruns",
        )
        election = settings.leader_election
        self._elector: LeaderElector | None = None
        if election.enabled:
            self._elector = LeaderElector(
                self._kube,
                election,
                namespace=election.lease_namespace or settings.namespace,
                on_started_leading=self._start_leading,
                on_stopped_leading=self._stop_leading,
            )
        self._queue: WorkQueue[ExecutionKey] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._live_workers: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._leading = False

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def watching(self) -> bool:
        """Started, both informers synced and still running (readiness)."""
        informers = self._tasks[:2]
        return (
            len(informers) == 2
            and not any(task.done() for task in informers)
            and self.executions.synced.is_set()
            and self.pipelineruns.synced.is_set()
        )

    async def start(self, *, sync_timeout_s: float | None = None) -> None:
        """Check the cluster serves what the controller needs, start the informers, wait for
        their first list, then elect (or just lead).

        Raises :class:`~assay.server.core.errors.FailedPrecondition` when the
        WorkflowExecution or Tekton API is not served, and
        :class:`~assay.server.core.errors.Unavailable` when the API server cannot be
        reached or the first lists do not succeed within ``sync_timeout_s`` (after
        cleaning up). ``sync_timeout_s`` defaults to the settings' one.
        """
        sync_timeout_s = sync_timeout_s or self.settings.sync_timeout_s
        await self._preflight()
        self._tasks = [
            asyncio.create_task(self.executions.run(), name="wfe-informer"),
            asyncio.create_task(self.pipelineruns.run(), name="pipelinerun-informer"),
        ]
        try:
            async with asyncio.timeout(sync_timeout_s):
                await self.executions.synced.wait()
                await self.pipelineruns.synced.wait()
        except TimeoutError:
            await self.stop()
            raise UnavailableError(
                f"cannot list WorkflowExecutions/PipelineRuns within {sync_timeout_s}s "
                "(API server unreachable, or a CRD not installed?)"
            ) from None
        if self._elector is not None:
            self._tasks.append(asyncio.create_task(self._elector.run(), name="leader-elector"))
        else:
            await self._start_leading()
        if self.settings.resync_period_s > 0:
            self._tasks.append(asyncio.create_task(self._resync(), name="wfe-resync"))

    async def _preflight(self) -> None:
        """Fail at once, with the reason, where the informers would only retry forever."""
        try:
            served = await self._kube.discover()
        except KubeError as exc:
            raise domain_error(exc) from exc
        for resource, what in (
            (WORKFLOW_EXECUTIONS, "the WorkflowExecution CRD (deploy/crds)"),
            (PIPELINE_RUNS, "Tekton Pipelines"),
        ):
            if not served.serves(resource.group_version):
                raise FailedPrecondition(
                    f"the cluster does not serve {resource.group_version}: install {what}"
                )

    async def stop(self) -> None:
        """Stop reconciling (releasing leadership), end watch streams, stop the informers."""
        tasks, self._tasks = self._tasks, []
        # The elector first: it calls _stop_leading and releases the Lease.
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._leading:
            await self._stop_leading()
        stragglers = list(self._live_workers)
        for task in stragglers:
            task.cancel()
        await asyncio.gather(*stragglers, return_exceptions=True)
        self._changes.close()

    async def _start_leading(self) -> None:
        self._leading = True
        queue: WorkQueue[ExecutionKey] = WorkQueue(
            self.settings.backoff, on_depth=self._metrics.queue_depth.set
        )
        self._queue = queue
        self._workers = [
            asyncio.create_task(self._worker(queue), name=f"wfe-worker-{i}")
            for i in range(max(1, self.settings.workers))
        ]
        for task in self._workers:
            self._live_workers.add(task)
            task.add_done_callback(self._live_workers.discard)
        for key in list(self.executions.cache):
            queue.add(ExecutionKey(key))

    async def _stop_leading(self) -> None:
        self._leading = False
        queue, self._queue = self._queue, None
        workers, self._workers = self._workers, []
        if queue is not None:
            queue.shutdown()
        if not workers:
            return
        try:
            await asyncio.wait(workers, timeout=self._stop_grace_s())
        finally:  # also when this wait is itself cancelled: no worker outlives leadership
            for task in workers:
                task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    def _stop_grace_s(self) -> float:
        """How long in-flight reconciles may finish after leadership ends.

        Half the gap between stepping down (renew deadline) and a successor taking over
        (lease duration), so a successor normally starts on a quiet cluster; reconciles are
        idempotent, so one cut short is simply redone.
        """
        election = self.settings.leader_election
        if not election.enabled:
            return _STOP_GRACE_S
        gap = election.lease_duration_s - election.renew_deadline_s
        return max(0.0, min(_STOP_GRACE_S, gap / 2))

    async def _worker(self, queue: WorkQueue[ExecutionKey]) -> None:
        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            try:
                result = await self.reconciler.reconcile(key)
                queue.forget(key)
                log.debug("reconciled %s: %s", key, result)
            except Exception as exc:  # every error is retried; none fails the workflow
                self._metrics.reconcile_errors.inc()
                delay = queue.retry(key)
                log.warning(
                    "reconcile %s failed (%s: %s); retry in %.2fs",
                    key,
                    type(exc).__name__,
                    exc,
                    delay,
                )
            finally:
                queue.done(key)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_period_s)
            queue = self._queue
            if queue is None:
                continue
            for key, obj in list(self.executions.cache.items()):
                if not is_terminal(phase_of(obj)) or meta(obj).get("deletionTimestamp"):
                    queue.add(ExecutionKey(key))

    def pending_work(self) -> int:
        """Keys queued, delayed or in flight on this replica (0 when idle or not leading)."""
        return self._queue.pending() if self._queue is not None else 0

    # -- informer handlers -----------------------------------------------------------------

    def _needs_work(self, obj: KubeObject) -> bool:
        """False for an execution that is finished, not being deleted, and whose lock this
        process has released: nothing is left to do for it."""
        return not (
            is_terminal(phase_of(obj))
            and not meta(obj).get("deletionTimestamp")
            and self.reconciler.is_settled(str(meta(obj).get("uid", "")))
        )

    def _on_execution(self, kind: EventType, old: KubeObject | None, new: KubeObject) -> None:
        previous = phase_of(old) if old is not None else None
        if kind == DELETED:
            self._changes.publish(PhaseChange.of(new, previous, deleted=True))
            return
        phase = phase_of(new)
        if previous is not phase:
            self._changes.publish(PhaseChange.of(new, previous))
        if self._queue is not None and self._needs_work(new):
            self._queue.add(ExecutionKey(cache_key(new)))

    def _on_api_back(self) -> None:
        """The API server answers again after an outage: reconcile every execution that
        needs it now, not when the retry backoff each one grew during the outage runs out
        (an execution that has no news after the outage would otherwise wait for it)."""
        queue = self._queue
        if queue is None:
            return
        for key, obj in list(self.executions.cache.items()):
            if self._needs_work(obj):
                queue.forget(ExecutionKey(key))  # its failures were the outage's
                queue.add(ExecutionKey(key))

    def _on_pipelinerun(self, kind: EventType, old: KubeObject | None, new: KubeObject) -> None:
        key = execution_of(new)
        if key is not None and self._queue is not None:
            self._queue.add(key)

    # -- facade for the gRPC layer ---------------------------------------------------------

    async def create(
        self,
        namespace: str,
        spec: Mapping[str, Any],
        *,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        requested_by: str | None = None,
    ) -> KubeObject:
        """Validate and create a WorkflowExecution; returns the created object (a dict).

        Without ``name`` the API server generates one (``wfe-xxxxx``); ``requested_by``
        (the authenticated caller) is recorded in an annotation.
        """
        ensure_valid_spec(spec)
        metadata: dict[str, Any] = {"namespace": namespace}
        if name:
            metadata["name"] = name
        else:
            metadata["generateName"] = "wfe-"
        if labels:
            metadata["labels"] = dict(labels)
        if requested_by:
            metadata["annotations"] = {ANNOTATION_REQUESTED_BY: requested_by}
        body: KubeObject = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": metadata,
            "spec": dict(spec),
        }
        try:
            return await self._kube.create(WORKFLOW_EXECUTIONS, namespace, body)
        except KubeError as exc:
            raise domain_error(exc) from exc

    async def get(self, namespace: str, name: str) -> KubeObject:
        """The WorkflowExecution as the API server has it now (a dict)."""
        try:
            return await self._kube.get(WORKFLOW_EXECUTIONS, namespace, name)
        except KubeError as exc:
            raise domain_error(exc) from exc

    async def list(
        self,
        *,
        namespace: str | None = None,
        phase: Phase | str | None = None,
        target: str | None = None,
        workflow_id: str | None = None,
    ) -> list[KubeObject]:
        """Matching WorkflowExecutions (dicts), oldest first; filters combine with AND."""
        try:
            listed = await self._kube.list(WORKFLOW_EXECUTIONS, namespace)
        except KubeError as exc:
            raise domain_error(exc) from exc
        wanted_phase = Phase(phase) if phase else None
        out: list[KubeObject] = []
        for obj in listed.items:
            spec = spec_of(obj)
            if wanted_phase is not None and phase_of(obj) is not wanted_phase:
                continue
            if target is not None and spec.get("targetResource") != target:
                continue
            if workflow_id is not None and workflow_id_of(obj) != workflow_id:
                continue
            out.append(obj)
        out.sort(
            key=lambda o: (
                str(meta(o).get("creationTimestamp", "")),
                str(meta(o).get("namespace", "")),
                str(meta(o).get("name", "")),
            )
        )
        return out

    def watch(
        self, *, namespace: str | None = None, name: str | None = None
    ) -> AsyncIterator[PhaseChange]:
        """Phase changes of one execution (``namespace`` + ``name``) or of all of them.

        First the current phase of each matching execution known to this replica, then every
        change as the informer sees it; ``deleted=True`` marks an execution's last change.
        Ends when the controller stops; raises Unavailable if the consumer falls behind.
        """
        # The live view, not a copy: the subscription reads it when it registers, in the same
        # step, so no change can fall between the snapshot and the first live event.
        return self._changes.subscribe(
            self.executions.cache.values(), namespace=namespace, name=name
        )
