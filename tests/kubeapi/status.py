"""Kubernetes `Status` error bodies and the exception that carries them.

Every failure the double reports (NotFound, AlreadyExists, Conflict, injected faults...)
is raised as `ApiError` and rendered by the server middleware as a `Status` object, so the
official client builds the same `ApiException` it would get from a real API server.
"""

from __future__ import annotations

from typing import Any

from .jsonutil import JsonObject

# HTTP code -> metav1.StatusReason, as the API server pairs them.
REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A failed API call; `to_status()` is the body the API server would send."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: JsonObject | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason if reason is not None else REASONS.get(code, "Unknown")
        self.details = details
        self.retry_after_seconds = retry_after_seconds

    def to_status(self) -> JsonObject:
        status: JsonObject = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        details = dict(self.details) if self.details else {}
        if self.retry_after_seconds is not None:
            details["retryAfterSeconds"] = self.retry_after_seconds
        if details:
            status["details"] = details
        return status


def success_status(details: JsonObject) -> JsonObject:
    """The body of a DELETE that removed an object whose registry does not return it."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def _details(resource: str, group: str, name: str, **extra: Any) -> JsonObject:
    # The API server reports the *resource* (plural) in details.kind for these errors.
    details: JsonObject = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    details.update(extra)
    return details


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        f'{_qualified(resource, group)} "{name}" not found',
        details=_details(resource, group, name),
    )


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        f'{_qualified(resource, group)} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(resource, group, name),
    )


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        reason="Conflict",
        details=_details(resource, group, name),
    )


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid(kind: str, group: str, name: str, field: str, message: str) -> ApiError:
    """422 Invalid with one cause, shaped like field.ErrorList rendering."""
    cause = {"reason": "FieldValueInvalid", "message": f"{field}: {message}", "field": field}
    details: JsonObject = {"name": name, "kind": kind, "causes": [cause]}
    if group:
        details["group"] = group
    label = f"{kind}.{group}" if group else kind
    return ApiError(422, f'{label} "{name}" is invalid: {field}: {message}', details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def expired(message: str) -> ApiError:
    return ApiError(410, message, reason="Expired")
