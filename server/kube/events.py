"""Kubernetes Events (core/v1) about any object, for ``kubectl describe`` and ``get events``.

The workflow reconciler records one after each skip, completion and failure of a
WorkflowExecution. Events are best effort, as in Kubernetes itself: a failure to write one
is logged, never retried, and never blocks the caller. The name is derived from the
object's uid and the reason, so a caller that runs twice writes one Event (the second create
returns AlreadyExists).
"""

from __future__ import annotations

import hashlib
import logging
import socket
from typing import Final

from assay.server.core.clock import Clock
from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeAlreadyExists, KubeError
from assay.server.kube.objects import KubeObject, meta
from assay.server.kube.resources import EVENTS
from assay.server.kube.times import format_time

log = logging.getLogger(__name__)

NORMAL: Final = "Normal"
WARNING: Final = "Warning"
_MESSAGE_MAX = 1024


def _suffix(uid: str, reason: str) -> str:
    """16 hex digits of SHA-256 over the length-prefixed uid and reason."""
    h = hashlib.sha256()
    for part in (uid, reason):
        encoded = part.encode()
        h.update(len(encoded).to_bytes(4, "big"))
        h.update(encoded)
    return h.hexdigest()[:16]


class EventRecorder:
    def __init__(
        self, kube: KubeClient, *, component: str, clock: Clock, instance: str | None = None
    ) -> None:
        self._kube = kube
        self._component = component
        self._clock = clock
        self._instance = instance or socket.gethostname()

    async def record(self, obj: KubeObject, *, type_: str, reason: str, message: str) -> None:
        """An Event about ``obj`` (which must have a namespace; events live beside it)."""
        m = meta(obj)
        namespace = str(m.get("namespace") or "default")
        name = str(m.get("name", ""))
        uid = str(m.get("uid", ""))
        now = self._clock.now()
        event: KubeObject = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name[:200]}.{_suffix(uid, reason)}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": str(obj.get("apiVersion", "")),
                "kind": str(obj.get("kind", "")),
                "name": name,
                "namespace": namespace,
                "uid": uid,
                "resourceVersion": str(m.get("resourceVersion", "")),
            },
            "type": type_,
            "reason": reason,
            "message": message[:_MESSAGE_MAX],
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "reportingInstance": self._instance[:128],
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
        except KubeError as exc:
            log.warning("could not record event %s on %s/%s: %s", reason, namespace, name, exc)
