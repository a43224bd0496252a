"""Kubernetes `Status` error bodies and the exception that carries them.

Every failure the double reports (NotFound, AlreadyExists, Conflict, injected faults...)
is raised as `ApiError` and rendered by the server middleware as a `Status` object, so the
official client builds the same `ApiException` it would get from a real API server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
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


class ErrorType(StrEnum):
    """field.ErrorType: the cause `reason` of an Invalid Status, and its message prefix."""

    REQUIRED = "FieldValueRequired"
    INVALID = "FieldValueInvalid"
    TYPE_INVALID = "FieldValueTypeInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    DUPLICATE = "FieldValueDuplicate"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"

    @property
    def label(self) -> str:
        return _ERROR_LABELS[self]


_ERROR_LABELS = {
    ErrorType.REQUIRED: "Required value",
    ErrorType.INVALID: "Invalid value",
    ErrorType.TYPE_INVALID: "Invalid value",
    ErrorType.NOT_SUPPORTED: "Unsupported value",
    ErrorType.DUPLICATE: "Duplicate value",
    ErrorType.FORBIDDEN: "Forbidden",
    ErrorType.TOO_LONG: "Too long",
    ErrorType.TOO_MANY: "Too many",
}
# Types whose message never shows the offending value (as field.Error.ErrorBody does).
_VALUELESS = frozenset({ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG})
_NO_VALUE: Any = object()


def render_value(value: Any) -> str:
    """A bad value as the API server prints it: strings quoted, numbers and booleans bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class FieldError:
    """One entry of a field.ErrorList: `path` is a tuple of keys and list indexes."""

    type: ErrorType
    path: tuple[str | int, ...]
    value: Any = _NO_VALUE
    detail: str = ""

    @property
    def field(self) -> str:
        text = ""
        for step in self.path:
            text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
        return text

    def body(self) -> str:
        """The message without the field, like field.Error.ErrorBody()."""
        text = self.type.label
        if self.type not in _VALUELESS and self.value is not _NO_VALUE:
            text += f": {render_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> JsonObject:
        return {"reason": self.type.value, "message": self.body(), "field": self.field}


def field_path(dotted: str) -> tuple[str | int, ...]:
    """`spec.items[0].name` as a path tuple."""
    steps: list[str | int] = []
    for part in dotted.split("."):
        name, *indexes = part.split("[")
        if name:
            steps.append(name)
        steps.extend(int(index.rstrip("]")) for index in indexes)
    return tuple(steps)


def required(dotted: str, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, field_path(dotted), detail=detail)


def invalid_value(dotted: str, value: Any, detail: str) -> FieldError:
    return FieldError(ErrorType.INVALID, field_path(dotted), value, detail)


def forbidden(dotted: str, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, field_path(dotted), detail=detail)


def invalid(kind: str, group: str, name: str, errors: Sequence[FieldError]) -> ApiError:
    """422 Invalid carrying every error as a cause, rendered like errors.NewInvalid."""
    details: JsonObject = {
        "name": name,
        "kind": kind,
        "causes": [error.cause() for error in errors],
    }
    if group:
        details["group"] = group
    label = f"{kind}.{group}" if group else kind
    texts = list(dict.fromkeys(str(error) for error in errors))  # the aggregate dedups
    summary = texts[0] if len(texts) == 1 else f"[{', '.join(texts)}]"
    return ApiError(422, f'{label} "{name}" is invalid: {summary}', details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def expired(message: str) -> ApiError:
    return ApiError(410, message, reason="Expired")
