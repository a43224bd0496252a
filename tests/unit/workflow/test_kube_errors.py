"""HTTP statuses map onto the workflow error tree; resource paths."""

from __future__ import annotations

import pytest

from assay.server.workflow.errors import (
    KubeAlreadyExists,
    KubeApiError,
    KubeConflict,
    KubeForbidden,
    KubeGone,
    KubeInvalid,
    KubeNotFound,
    KubeUnavailable,
    error_for_status,
)
from assay.server.workflow.kube import EVENTS, LEASES, WORKFLOW_EXECUTIONS, Resource


@pytest.mark.parametrize(
    ("status", "reason", "cls"),
    [
        (404, "NotFound", KubeNotFound),
        (409, "AlreadyExists", KubeAlreadyExists),
        (409, "Conflict", KubeConflict),
        (410, "Expired", KubeGone),
        (422, "Invalid", KubeInvalid),
        (400, "BadRequest", KubeInvalid),
        (403, "Forbidden", KubeForbidden),
        (429, "TooManyRequests", KubeUnavailable),
        (500, "InternalError", KubeUnavailable),
        (503, "ServiceUnavailable", KubeUnavailable),
        (418, "Teapot", KubeApiError),
    ],
)
def test_error_for_status(status: int, reason: str, cls: type[KubeApiError]) -> None:
    error = error_for_status(status, {"reason": reason, "message": "m"})
    assert type(error) is cls
    assert (error.status, error.reason, error.message) == (status, reason, "m")
    assert error.retryable is (cls is KubeUnavailable)


def test_error_without_a_status_body() -> None:
    assert isinstance(error_for_status(409, None), KubeConflict)


def test_paths() -> None:
    assert WORKFLOW_EXECUTIONS.path() == (
        "/apis/workflowexecution.kubernaut.ai/v1alpha1/workflowexecutions"
    )
    assert WORKFLOW_EXECUTIONS.path("ns", "a", "status") == (
        "/apis/workflowexecution.kubernaut.ai/v1alpha1/namespaces/ns/workflowexecutions/a/status"
    )
    assert LEASES.path("ns", "l") == "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l"
    assert EVENTS.path("ns") == "/api/v1/namespaces/ns/events"
    assert Resource("", "v1", "nodes", namespaced=False).path("ignored", "n") == "/api/v1/nodes/n"
