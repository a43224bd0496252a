"""HTTP statuses map onto the one error tree, and the tree onto the domain errors."""

from __future__ import annotations

import pytest

from assay.server.core.errors import (
    Aborted,
    AlreadyExists,
    AssayError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from assay.server.kube.errors import (
    KubeAlreadyExists,
    KubeApiError,
    KubeBadRequest,
    KubeConfigError,
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeGone,
    KubeInvalid,
    KubeNotFound,
    KubePathError,
    KubeServerError,
    KubeTooManyRequests,
    KubeTransportError,
    KubeUnauthorized,
    domain_error,
    error_for_status,
)


@pytest.mark.parametrize(
    ("status", "reason", "cls"),
    [
        (400, "BadRequest", KubeBadRequest),
        (401, "Unauthorized", KubeUnauthorized),
        (403, "Forbidden", KubeForbidden),
        (404, "NotFound", KubeNotFound),
        (405, "MethodNotAllowed", KubeBadRequest),
        (409, "AlreadyExists", KubeAlreadyExists),
        (409, "Conflict", KubeConflict),
        (410, "Expired", KubeGone),
        (422, "Invalid", KubeInvalid),
        (429, "TooManyRequests", KubeTooManyRequests),
        (500, "InternalError", KubeServerError),
        (503, "ServiceUnavailable", KubeServerError),
    ],
)
def test_error_for_status(status: int, reason: str, cls: type[KubeApiError]) -> None:
    error = error_for_status(status, {"reason": reason, "message": "m"}, method="GET", path="/p")
    assert type(error) is cls
    assert (error.status, error.reason, error.message) == (status, reason, "m")
    assert str(error) == f"GET /p: HTTP {status} {reason}: m"
    assert error.retryable is (cls in (KubeTooManyRequests, KubeServerError))


def test_error_without_a_status_body() -> None:
    error = error_for_status(409, None)
    assert type(error) is KubeConflict
    assert str(error) == "HTTP 409"


def test_retry_after_comes_from_the_status_details() -> None:
    error = error_for_status(429, {"details": {"retryAfterSeconds": 3}})
    assert isinstance(error, KubeTooManyRequests) and error.retry_after_s == 3.0
    assert KubeTransportError("x").retryable


MESSAGE = 'workflowexecutions.workflowexecution.kubernaut.ai "x" not found'


@pytest.mark.parametrize(
    ("error", "domain"),
    [
        (error_for_status(404, {"message": MESSAGE}), NotFound),
        (error_for_status(409, {"reason": "AlreadyExists", "message": "taken"}), AlreadyExists),
        (error_for_status(409, {"reason": "Conflict", "message": "modified"}), Aborted),
        (error_for_status(410, {"reason": "Expired", "message": "too old"}), FailedPrecondition),
        (error_for_status(400, {"message": "bad selector"}), InvalidArgument),
        (error_for_status(422, {"message": "invalid"}), InvalidArgument),
        (error_for_status(403, {"message": "forbidden: cannot create"}), PermissionDenied),
        (error_for_status(401, {"message": "Unauthorized"}), Unavailable),
        (error_for_status(429, {"message": "slow down"}), Unavailable),
        (error_for_status(503, {"message": "etcd down"}), Unavailable),
        (KubeTransportError("connection refused"), Unavailable),
        (KubeConfigError("no context 'x'"), FailedPrecondition),
        (KubePathError("name '..' cannot be used"), InvalidArgument),
    ],
)
def test_every_kube_error_maps_to_one_domain_error(
    error: KubeError, domain: type[AssayError]
) -> None:
    mapped = domain_error(error)
    assert type(mapped) is domain
    if isinstance(error, KubeApiError):
        assert error.message in str(mapped)  # the API server's words reach the caller


def test_not_found_names_what_the_api_server_reported() -> None:
    error = error_for_status(
        404, {"message": MESSAGE, "details": {"kind": "workflowexecutions", "name": "x"}}
    )
    mapped = domain_error(error)
    assert isinstance(mapped, NotFound)
    assert (mapped.kind, mapped.ident, str(mapped)) == ("workflowexecutions", "x", MESSAGE)


def test_invalid_keeps_every_cause_as_a_field_violation() -> None:
    error = error_for_status(
        422,
        {
            "message": 'WorkflowExecution "x" is invalid: [spec.a: Required value, spec.b: bad]',
            "details": {
                "causes": [
                    {"field": "spec.a", "message": "Required value"},
                    {"field": "spec.b", "message": "bad"},
                ]
            },
        },
    )
    mapped = domain_error(error)
    assert isinstance(mapped, InvalidArgument)
    assert [(v.field, v.description) for v in mapped.violations] == [
        ("spec.a", "Required value"),
        ("spec.b", "bad"),
    ]
