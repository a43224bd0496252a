"""PipelineRun building, ownership and status parsing."""

from __future__ import annotations

import pytest

from assay.server.workflow.model import Phase
from assay.server.workflow.naming import is_label_value
from assay.server.workflow.tekton import (
    belongs_to,
    build_pipelinerun,
    execution_of,
    parse_pipelinerun,
    summarize,
)

from .objects import pipelinerun, taskrun, wfe


def _params(pr: dict[str, object]) -> dict[str, str]:
    spec = pr["spec"]
    assert isinstance(spec, dict)
    return {p["name"]: p["value"] for p in spec["params"]}


def test_build_uses_bundles_resolver_and_defaults() -> None:
    obj = wfe(parameters={"REPLICAS": "3"})
    pr = build_pipelinerun(
        obj, namespace="kubernaut-workflows", default_service_account="kubernaut-workflow-runner"
    )
    assert pr["apiVersion"] == "tekton.dev/v1" and pr["kind"] == "PipelineRun"
    assert pr["metadata"]["namespace"] == "kubernaut-workflows"
    ref = pr["spec"]["pipelineRef"]
    assert ref["resolver"] == "bundles"
    assert {p["name"]: p["value"] for p in ref["params"]} == {
        "bundle": "quay.io/kubernaut/restart:1.0.0",
        "name": "workflow",
        "kind": "pipeline",
    }
    assert _params(pr) == {"REPLICAS": "3", "TARGET_RESOURCE": "prod/deployment/web"}
    assert pr["spec"]["taskRunTemplate"] == {"serviceAccountName": "kubernaut-workflow-runner"}
    assert "timeouts" not in pr["spec"]
    assert pr["metadata"]["annotations"]["workflowexecution.kubernaut.ai/target-resource"] == (
        "prod/deployment/web"
    )


def test_build_with_digest_timeout_and_service_account() -> None:
    obj = wfe(executionConfig={"timeout": "45m", "serviceAccountName": "custom-sa"})
    obj["spec"]["workflowRef"]["containerDigest"] = "sha256:" + "b" * 64
    pr = build_pipelinerun(obj, namespace="ns", default_service_account="default-sa")
    bundle = pr["spec"]["pipelineRef"]["params"][0]["value"]
    assert bundle == "quay.io/kubernaut/restart:1.0.0@sha256:" + "b" * 64
    assert pr["spec"]["timeouts"] == {"pipeline": "45m"}
    assert pr["spec"]["taskRunTemplate"]["serviceAccountName"] == "custom-sa"


def test_target_resource_param_cannot_be_overridden() -> None:
    pr = build_pipelinerun(
        wfe(parameters={"TARGET_RESOURCE": "other"}), namespace="ns", default_service_account="sa"
    )
    assert _params(pr)["TARGET_RESOURCE"] == "prod/deployment/web"


def test_name_is_deterministic_and_labels_are_valid() -> None:
    long_name = "x" * 200
    obj = wfe(
        long_name,
        target="some-namespace/deployment/" + "y" * 200,
        workflow_id="Workflow With Spaces/" + "z" * 80,
    )
    first = build_pipelinerun(obj, namespace="ns", default_service_account="sa")
    second = build_pipelinerun(obj, namespace="ns", default_service_account="sa")
    assert first["metadata"]["name"] == second["metadata"]["name"]
    assert len(first["metadata"]["name"]) <= 63
    for key, value in first["metadata"]["labels"].items():
        assert is_label_value(value), (key, value)
    assert execution_of(first) == f"team-a/{long_name}"


def test_belongs_to_checks_the_uid_label() -> None:
    pr = build_pipelinerun(wfe(uid="u-1"), namespace="ns", default_service_account="sa")
    assert belongs_to(pr, wfe(uid="u-1"))
    assert not belongs_to(pr, wfe(uid="u-2"))
    assert not belongs_to({"metadata": {"name": "foreign"}}, wfe(uid="u-1"))


def test_execution_of_foreign_pipelinerun_is_none() -> None:
    assert execution_of({"metadata": {"name": "x"}}) is None


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        (None, Phase.RUNNING),
        ("Unknown", Phase.RUNNING),
        ("True", Phase.COMPLETED),
        ("False", Phase.FAILED),
    ],
)
def test_parse_succeeded_condition(status: str | None, phase: Phase) -> None:
    state = parse_pipelinerun(pipelinerun(status, reason="R", message="M"))
    assert state.phase is phase
    if status is not None:
        assert (state.reason, state.message) == ("R", "M")
    assert state.started_at is not None


def test_summarize_counts_finished_and_total_tasks() -> None:
    pr = pipelinerun(
        "Unknown", reason="Running", tasks=["a", "b", "c"], children=[("tr-a", "a"), ("tr-b", "b")]
    )
    trs = [
        taskrun("tr-a", "a", "True"),
        taskrun("tr-b", "b", "Unknown"),
        taskrun("tr-other", "x", "True"),  # not a child of this PipelineRun
    ]
    assert summarize(pr, trs) == {
        "status": "Unknown",
        "reason": "Running",
        "completedTasks": 1,
        "failedTasks": 0,
        "totalTasks": 3,
    }


def test_summarize_without_pipeline_spec_falls_back_to_children() -> None:
    pr = pipelinerun("False", children=[("tr-a", "a"), ("tr-b", "b")])
    trs = [taskrun("tr-a", "a", "True"), taskrun("tr-b", "b", "False")]
    summary = summarize(pr, trs)
    assert summary["totalTasks"] == 2
    assert (summary["completedTasks"], summary["failedTasks"]) == (2, 1)
