"""Kubernetes Events (core/v1) about WorkflowExecutions, for ``kubectl describe wfe``.

The reconciler calls :meth:`EventRecorder.record` after each skip, completion and failure
(and for warnings such as a PipelineRun name clash). Events are best effort, as in
Kubernetes itself: a failure to write one is logged, never retried, and never blocks the
reconcile. The name is derived from the execution's uid and the reason, so a reconcile that
runs twice writes one Event (the second create returns AlreadyExists).
"""

from __future__ import annotations

import logging
import socket

from assay.server.core.clock import Clock
from assay.server.workflow.errors import KubeAlreadyExists, WorkflowError
from assay.server.workflow.kube import EVENTS, KubeClient
from assay.server.workflow.model import KubeObject, meta
from assay.server.workflow.naming import digest
from assay.server.workflow.timeutil import format_time

log = logging.getLogger(__name__)

COMPONENT = "assay-workflow-controller"
NORMAL = "Normal"
WARNING = "Warning"
_MESSAGE_MAX = 1024


class EventRecorder:
    def __init__(self, kube: KubeClient, *, clock: Clock, instance: str | None = None) -> None:
        self._kube = kube
        self._clock = clock
        self._instance = instance or socket.gethostname()

    async def record(self, wfe: KubeObject, *, type_: str, reason: str, message: str) -> None:
        m = meta(wfe)
        namespace = str(m.get("namespace", ""))
        name = str(m.get("name", ""))
        uid = str(m.get("uid", ""))
        now = self._clock.now()
        event: KubeObject = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{name[:200]}.{digest(uid, reason)[:16]}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": str(wfe.get("apiVersion", "")),
                "kind": str(wfe.get("kind", "")),
                "name": name,
                "namespace": namespace,
                "uid": uid,
                "resourceVersion": str(m.get("resourceVersion", "")),
            },
            "type": type_,
            "reason": reason,
            "message": message[:_MESSAGE_MAX],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self._instance,
            # The legacy fields (no eventTime): the core/v1 validation path every API server
            # version accepts, and what `kubectl describe` shows.
            "firstTimestamp": format_time(now),
            "lastTimestamp": format_time(now),
            "count": 1,
        }
        try:
            await self._kube.create(EVENTS, namespace, event)
        except KubeAlreadyExists:
            pass
        except WorkflowError as exc:
            log.warning("could not record event %s on %s/%s: %s", reason, namespace, name, exc)
