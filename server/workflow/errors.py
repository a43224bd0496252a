"""Errors of the workflow layer.

Hierarchy::

    WorkflowError
    ├── KubeApiError              an API server call failed (keeps status, reason, body)
    │   ├── KubeNotFound          404
    │   ├── KubeConflict          409 Conflict: stale resourceVersion, re-read and re-apply
    │   ├── KubeAlreadyExists     409 AlreadyExists: a create found the name taken
    │   ├── KubeGone              410: resourceVersion too old for a watch/list, re-list
    │   ├── KubeInvalid           400/422: the server rejected the object
    │   ├── KubeForbidden         401/403
    │   └── KubeUnavailable       5xx, 429, connection errors, timeouts (retryable)
    ├── InvalidTransition         a write would break the phase state machine
    └── PipelineRunNameTaken      the deterministic PipelineRun name holds a foreign object

The reconciler retries every error with per-key backoff; none of them is recorded as a
workflow failure. :class:`~assay.server.workflow.controller.WorkflowController` (the facade
the gRPC layer calls) translates them into :mod:`assay.server.core.errors` at its boundary.
"""

from __future__ import annotations

from typing import Any

from assay.server.workflow.model import Phase


class WorkflowError(Exception):
    """Base of every workflow-layer error."""


class KubeApiError(WorkflowError):
    def __init__(self, status: int, reason: str = "", message: str = "", body: Any = None) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body
        super().__init__(f"HTTP {status} {reason}: {message}".strip())

    @property
    def retryable(self) -> bool:
        return False


class KubeNotFound(KubeApiError):
    pass


class KubeConflict(KubeApiError):
    pass


class KubeAlreadyExists(KubeApiError):
    pass


class KubeGone(KubeApiError):
    pass


class KubeInvalid(KubeApiError):
    pass


class KubeForbidden(KubeApiError):
    pass


class KubeUnavailable(KubeApiError):
    @property
    def retryable(self) -> bool:
        return True


class InvalidTransition(WorkflowError):
    def __init__(self, *, current: Phase, target: Phase) -> None:
        self.current = current
        self.target = target
        super().__init__(f"phase transition {current} -> {target} is not allowed")


class PipelineRunNameTaken(WorkflowError):
    def __init__(self, namespace: str, name: str) -> None:
        self.namespace = namespace
        self.name = name
        super().__init__(
            f"PipelineRun {namespace}/{name} exists but does not belong to this execution"
        )


def error_for_status(status: int, body: Any) -> KubeApiError:
    """Build the right :class:`KubeApiError` from an HTTP status and a decoded Status body."""
    reason = ""
    message = ""
    if isinstance(body, dict):
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or "")
    cls: type[KubeApiError]
    if status == 404:
        cls = KubeNotFound
    elif status == 409:
        cls = KubeAlreadyExists if reason == "AlreadyExists" else KubeConflict
    elif status == 410:
        cls = KubeGone
    elif status in (400, 422):
        cls = KubeInvalid
    elif status in (401, 403):
        cls = KubeForbidden
    elif status == 429 or status >= 500:
        cls = KubeUnavailable
    else:
        cls = KubeApiError
    return cls(status, reason, message, body)
