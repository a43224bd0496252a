"""WorkflowExecutionService end to end: gRPC client -> server -> controller -> kube API double."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from assay.client.api import AssayClient, ClientError
from assay.v1 import workflow_pb2 as wpb
from assay.v1 import workflow_pb2_grpc
from tests.integration.api.workflow_fixtures import NS, WorkflowEnv, spec
from tests.integration.workflow.harness import EXEC_NS


def test_create_runs_to_completion_with_an_audit_trail(workflows: WorkflowEnv) -> None:
    client = workflows.client
    created = client.create_workflow(wpb.CreateRequest(namespace=NS, name="wfe-a", spec=spec()))
    assert created.uid and created.spec.target_resource == "prod/deployment/web"
    assert created.status.phase == wpb.WORKFLOW_PHASE_PENDING  # not yet reconciled
    assert created.spec.execution_config.timeout.seconds == 1800
    running = workflows.wait_phase("wfe-a", wpb.WORKFLOW_PHASE_RUNNING)
    assert running.status.pipeline_run_ref.namespace == EXEC_NS
    workflows.succeed("wfe-a")
    done = workflows.wait_phase("wfe-a", wpb.WORKFLOW_PHASE_COMPLETED)
    assert done.status.HasField("completion_time")
    events = workflows.audit_trail("wfe-a", at_least=3)
    assert [e.event_type for e in events] == [
        wpb.AUDIT_EVENT_TYPE_PIPELINERUN_CREATED,
        wpb.AUDIT_EVENT_TYPE_COMPLETED,
        wpb.AUDIT_EVENT_TYPE_LOCK_RELEASED,
    ]
    assert all(e.correlation_id == "kubernaut-system/rr-1" for e in events)
    assert events[0].workflow_id == "restart-pods"


def test_failure_details_reach_the_client(workflows: WorkflowEnv) -> None:
    workflows.client.create_workflow(wpb.CreateRequest(namespace=NS, name="wfe-f", spec=spec()))
    workflows.wait_phase("wfe-f", wpb.WORKFLOW_PHASE_RUNNING)
    workflows.fail("wfe-f", reason="OOMKilled", exit_code=137)
    failed = workflows.wait_phase("wfe-f", wpb.WORKFLOW_PHASE_FAILED)
    details = failed.status.failure_details
    assert details.reason == wpb.FAILURE_REASON_OOM_KILLED
    assert details.exit_code == 137 and details.was_execution_failure
    assert details.natural_language_summary


def test_second_execution_on_the_target_is_skipped(workflows: WorkflowEnv) -> None:
    client = workflows.client
    client.create_workflow(wpb.CreateRequest(namespace=NS, name="first", spec=spec()))
    workflows.wait_phase("first", wpb.WORKFLOW_PHASE_RUNNING)
    client.create_workflow(
        wpb.CreateRequest(namespace=NS, name="second", spec=spec(workflow_id="scale-up"))
    )
    skipped = workflows.wait_phase("second", wpb.WORKFLOW_PHASE_SKIPPED)
    assert skipped.status.skip_details.reason == wpb.SKIP_REASON_RESOURCE_BUSY
    assert skipped.status.skip_details.conflicting_workflow.name == "first"
    listed = client.list_workflows(
        wpb.ListRequest(namespace=NS, phases=[wpb.WORKFLOW_PHASE_SKIPPED])
    )
    assert [e.name for e in listed.executions] == ["second"]
    by_workflow = client.list_workflows(wpb.ListRequest(workflow_id="restart-pods"))
    assert [e.name for e in by_workflow.executions] == ["first"]
    by_target = client.list_workflows(
        wpb.ListRequest(target_resource="prod/deployment/web", limit=1)
    )
    assert (
        by_target.total_count == 2 and len(by_target.executions) == 1 and by_target.next_offset == 1
    )


def test_invalid_spec_names_every_field(workflows: WorkflowEnv) -> None:
    bad = spec(target="not a target")
    bad.parameters["lower_case"] = "x"
    bad.confidence = 1.5
    bad.workflow_ref.container_image = ""
    with (
        pytest.raises(grpc.RpcError) as caught,
        grpc.insecure_channel(workflows.running.target) as channel,
    ):
        workflow_pb2_grpc.WorkflowExecutionServiceStub(channel).Create(
            wpb.CreateRequest(namespace=NS, spec=bad), timeout=10
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    bad_request = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad_request)
    fields = {v.field for v in bad_request.field_violations}
    assert {"spec.targetResource", "spec.confidence", "spec.workflowRef.containerImage"} <= fields
    assert any(f.startswith("spec.parameters") for f in fields)
    assert workflows.client.list_workflows(wpb.ListRequest()).total_count == 0


def test_unknown_execution_is_not_found(workflows: WorkflowEnv) -> None:
    with pytest.raises(ClientError) as caught:
        workflows.client.get_workflow(NS, "nope")
    assert caught.value.code is grpc.StatusCode.NOT_FOUND


def test_bad_request_fields(workflows: WorkflowEnv) -> None:
    with pytest.raises(ClientError) as caught:
        workflows.client.create_workflow(wpb.CreateRequest(namespace="Bad_NS", spec=spec()))
    assert "namespace" in str(caught.value)
    with pytest.raises(ClientError) as caught:
        workflows.client.list_workflows(wpb.ListRequest(limit=0))
    assert "limit" in str(caught.value)


def test_workflows_disabled_is_failed_precondition(client: AssayClient) -> None:
    with pytest.raises(ClientError) as caught:
        client.create_workflow(wpb.CreateRequest(namespace=NS, spec=spec()))
    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert "--workflows" in str(caught.value)
