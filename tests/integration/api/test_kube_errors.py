"""Kubernetes API failures reach gRPC callers as the right status with the API's message."""

from __future__ import annotations

import grpc
import pytest

from assay.client.api import ClientError
from assay.v1 import workflow_pb2 as wpb
from tests.integration.api.workflow_fixtures import NS, WorkflowEnv, spec

FORBIDDEN = (
    'workflowexecutions.workflowexecution.kubernaut.ai is forbidden: User "system:serviceaccount:'
    'kubernaut-system:assay" cannot create resource "workflowexecutions" in namespace "team-a"'
)


def test_rbac_refusal_is_permission_denied(workflows: WorkflowEnv) -> None:
    workflows.api.inject(
        method="POST", path_regex="/workflowexecutions$", status=403, message=FORBIDDEN
    )
    with pytest.raises(ClientError) as caught:
        workflows.client.create_workflow(wpb.CreateRequest(namespace=NS, spec=spec()))
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert FORBIDDEN in str(caught.value)


def test_missing_namespace_is_not_found_in_the_api_servers_words(workflows: WorkflowEnv) -> None:
    with pytest.raises(ClientError) as caught:
        workflows.client.create_workflow(wpb.CreateRequest(namespace="team-zz", spec=spec()))
    assert caught.value.code is grpc.StatusCode.NOT_FOUND
    assert 'namespaces "team-zz" not found' in str(caught.value)


def test_an_api_outage_is_unavailable(workflows: WorkflowEnv) -> None:
    workflows.api.inject(path_regex="/workflowexecutions/", status=503, message="etcd is down")
    with pytest.raises(ClientError) as caught:
        workflows.client.get_workflow(NS, "any")
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    assert "etcd is down" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [
        (400, "BadRequest", grpc.StatusCode.INVALID_ARGUMENT),
        (403, "Forbidden", grpc.StatusCode.PERMISSION_DENIED),
        (404, "NotFound", grpc.StatusCode.NOT_FOUND),
        (409, "Conflict", grpc.StatusCode.ABORTED),
        (422, "Invalid", grpc.StatusCode.INVALID_ARGUMENT),
        (429, "TooManyRequests", grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_api_4xx_answers_map_to_the_matching_code_with_the_apis_message(
    workflows: WorkflowEnv, status: int, reason: str, code: grpc.StatusCode
) -> None:
    message = f"the API server says {reason} ({status})"
    workflows.api.inject(
        method="GET",
        path_regex="/workflowexecutions/any$",
        status=status,
        reason=reason,
        message=message,
        times=None,
    )
    with pytest.raises(ClientError) as caught:
        workflows.client.get_workflow(NS, "any")
    assert caught.value.code is code
    assert message in str(caught.value)


def test_a_10k_character_name_is_invalid_argument_before_the_api_server(
    workflows: WorkflowEnv,
) -> None:
    with pytest.raises(ClientError) as caught:
        workflows.client.get_workflow(NS, "n" * 10_000)
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert len(str(caught.value)) < 300
