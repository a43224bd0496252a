"""The one error tree of the Kubernetes client, and its mapping to the domain errors.

Hierarchy::

    KubeError                    anything assay.server.kube raises (``retryable``)
    ├── KubeConfigError          no usable kubeconfig (or context) and no in-cluster config
    ├── KubePathError            a namespace, name or plural that cannot be a path segment
    ├── KubeTransportError       no usable answer: connect, TLS, timeout, reset, not JSON
    └── KubeApiError             the API server answered an error ``Status``
        ├── KubeBadRequest       400, and any other 4xx without a class of its own
        ├── KubeInvalid          422: the object failed validation (``causes``)
        ├── KubeUnauthorized     401: the server's credentials were refused
        ├── KubeForbidden        403: RBAC does not allow the request
        ├── KubeNotFound         404
        ├── KubeConflict         409 Conflict: stale resourceVersion; re-read and re-apply
        ├── KubeAlreadyExists    409 AlreadyExists: a create found the name taken
        ├── KubeGone             410: resourceVersion or continue token expired; re-list
        ├── KubeTooManyRequests  429 (``retry_after_s``)
        └── KubeServerError      5xx

Every :class:`KubeApiError` keeps the HTTP status, the ``Status`` reason, message and
details the API server sent, and what was asked (method and path); the exception a
transport error came from is its ``__cause__``. :func:`domain_error` maps the tree onto
:mod:`assay.server.core.errors` in one place, keeping the API server's message, so callers
write ``raise domain_error(exc) from exc`` and the gRPC edge needs nothing Kubernetes-specific.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assay.server.core.errors import (
    Aborted,
    AlreadyExists,
    AssayError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)


class KubeError(Exception):
    """Base of every error raised by :mod:`assay.server.kube`."""

    retryable = False
    """True when the same request may succeed later unchanged (outage, throttling)."""


class KubeConfigError(KubeError):
    """Neither the kubeconfig (with the requested context) nor in-cluster config is usable."""


class KubePathError(KubeError, ValueError):
    """A value that would change the request URL's path if used as one of its segments."""


class KubeTransportError(KubeError):
    """The request got no usable answer (connection, TLS, timeout, reset, a body not JSON)."""

    retryable = True


class KubeApiError(KubeError):
    """The API server answered with an error status."""

    def __init__(
        self,
        status: int,
        *,
        reason: str = "",
        message: str = "",
        details: Mapping[str, Any] | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.details: Mapping[str, Any] = details or {}
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method else ""
        super().__init__(f"{where}HTTP {status} {reason}: {message}".rstrip(": "))

    @property
    def causes(self) -> list[Mapping[str, Any]]:
        """``details.causes`` of the Status (field-level problems of a 422)."""
        causes = self.details.get("causes")
        return [c for c in causes if isinstance(c, Mapping)] if isinstance(causes, list) else []


class KubeBadRequest(KubeApiError):
    pass


class KubeInvalid(KubeApiError):
    pass


class KubeUnauthorized(KubeApiError):
    pass


class KubeForbidden(KubeApiError):
    pass


class KubeNotFound(KubeApiError):
    pass


class KubeConflict(KubeApiError):
    pass


class KubeAlreadyExists(KubeApiError):
    pass


class KubeGone(KubeApiError):
    pass


class KubeTooManyRequests(KubeApiError):
    retryable = True

    @property
    def retry_after_s(self) -> float | None:
        value = self.details.get("retryAfterSeconds")
        return float(value) if isinstance(value, int | float) and value > 0 else None


class KubeServerError(KubeApiError):
    retryable = True


_BY_STATUS: dict[int, type[KubeApiError]] = {
    400: KubeBadRequest,
    401: KubeUnauthorized,
    403: KubeForbidden,
    404: KubeNotFound,
    409: KubeConflict,
    410: KubeGone,
    422: KubeInvalid,
    429: KubeTooManyRequests,
}


def error_for_status(status: int, body: Any, *, method: str = "", path: str = "") -> KubeApiError:
    """The error for an HTTP error status and its decoded body (a ``Status``, or anything)."""
    reason = message = ""
    details: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or "")
        found = body.get("details")
        details = found if isinstance(found, Mapping) else {}
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = KubeServerError if status >= 500 else KubeBadRequest
    elif cls is KubeConflict and reason == "AlreadyExists":
        cls = KubeAlreadyExists
    return cls(status, reason=reason, message=message, details=details, method=method, path=path)


def domain_error(error: KubeError) -> AssayError:
    """The domain error a Kubernetes failure means to a caller of the server.

    4xx answers keep the API server's message: 400/422 InvalidArgument, 403
    PermissionDenied, 404 NotFound, 409 AlreadyExists (a create) or Aborted (a conflicting
    update), 410 FailedPrecondition, 429 Unavailable (retry later). 401 means the
    *server's* credentials were refused, which its caller cannot fix: Unavailable, like an
    outage, not PermissionDenied.
    """
    if isinstance(error, KubeApiError):
        text = error.message or str(error)
        if isinstance(error, KubeNotFound):
            kind = str(error.details.get("kind") or "object")
            name = str(error.details.get("name") or error.path)
            return NotFound(kind, name, message=text)
        if isinstance(error, KubeAlreadyExists):
            return AlreadyExists(text)
        if isinstance(error, KubeInvalid | KubeBadRequest):
            return InvalidArgument(_violations(error))
        if isinstance(error, KubeForbidden):
            return PermissionDenied(text)
        if isinstance(error, KubeConflict):
            return Aborted(text)
        if isinstance(error, KubeGone):
            return FailedPrecondition(text)
        if isinstance(error, KubeTooManyRequests):
            return Unavailable(f"the Kubernetes API server is throttling requests: {text}")
        return Unavailable(f"the Kubernetes API server answered {error.status}: {text}")
    if isinstance(error, KubePathError):
        return InvalidArgument(FieldViolation("name", str(error)))
    if isinstance(error, KubeConfigError):
        return FailedPrecondition(str(error))
    return Unavailable(f"cannot reach the Kubernetes API server: {error}")


def _violations(error: KubeApiError) -> list[FieldViolation]:
    violations = [
        FieldViolation(str(cause.get("field") or ""), str(cause.get("message") or ""))
        for cause in error.causes
        if cause.get("message")
    ]
    return violations or [FieldViolation("", error.message or str(error))]
