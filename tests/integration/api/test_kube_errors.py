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
