"""The spec validator: one violation per bad field, with CRD-style field paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from assay.server.core.errors import InvalidArgument
from assay.server.workflow.validation import ensure_valid_spec, validate_spec

VALID: dict[str, Any] = {
    "workflowRef": {
        "workflowId": "restart-pods",
        "version": "1.2.0",
        "containerImage": "quay.io/kubernaut/restart-pods:1.2.0",
        "containerDigest": "sha256:" + "a" * 64,
    },
    "targetResource": "prod/deployment/web",
    "parameters": {"REPLICAS": "3", "DRY_RUN_2": "false"},
    "confidence": 0.87,
    "rationale": "pods crash-looping after config change",
    "executionConfig": {"timeout": "1h30m", "serviceAccountName": "runner"},
    "remediationRequestRef": {"name": "rr-1", "namespace": "kubernaut-system", "uid": "u-1"},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(VALID)
    node = spec
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return spec


_DELETE = object()


def test_valid_spec_has_no_violations() -> None:
    assert validate_spec(VALID) == []
    ensure_valid_spec(VALID)


@pytest.mark.parametrize("target", ["prod/deployment/web", "node/worker-1", "ns/Deployment/a.b"])
def test_target_forms_accepted(target: str) -> None:
    assert validate_spec(_with("targetResource", target)) == []


def test_minimal_spec_is_valid() -> None:
    spec = {"workflowRef": VALID["workflowRef"], "targetResource": "node/n1"}
    assert validate_spec(spec) == []


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("workflowRef", _DELETE, "spec.workflowRef"),
        ("workflowRef.workflowId", _DELETE, "spec.workflowRef.workflowId"),
        ("workflowRef.workflowId", "", "spec.workflowRef.workflowId"),
        ("workflowRef.version", 3, "spec.workflowRef.version"),
        ("workflowRef.containerImage", "img with space", "spec.workflowRef.containerImage"),
        ("workflowRef.containerImage", "img@sha256:abc", "spec.workflowRef.containerImage"),
        ("workflowRef.containerDigest", "md5:abc", "spec.workflowRef.containerDigest"),
        ("targetResource", _DELETE, "spec.targetResource"),
        ("targetResource", "web", "spec.targetResource"),
        ("targetResource", "a/b/c/d", "spec.targetResource"),
        ("targetResource", "Prod/deployment/web", "spec.targetResource"),
        ("targetResource", "prod/deployment/" + "x" * 400, "spec.targetResource"),
        ("parameters", ["A"], "spec.parameters"),
        ("parameters", {"lower_case": "x"}, "spec.parameters.lower_case"),
        ("parameters", {"1ABC": "x"}, "spec.parameters.1ABC"),
        ("parameters", {"OK": 5}, "spec.parameters.OK"),
        ("confidence", 1.5, "spec.confidence"),
        ("confidence", -0.1, "spec.confidence"),
        ("confidence", True, "spec.confidence"),
        ("confidence", "high", "spec.confidence"),
        ("executionConfig.timeout", "ten minutes", "spec.executionConfig.timeout"),
        ("executionConfig.serviceAccountName", "Bad_SA", "spec.executionConfig.serviceAccountName"),
        ("remediationRequestRef", {"namespace": "x"}, "spec.remediationRequestRef.name"),
        ("rationale", "x" * 5000, "spec.rationale"),
    ],
)
def test_each_rule_reports_its_field(path: str, value: Any, field: str) -> None:
    violations = validate_spec(_with(path, value))
    assert [v.field for v in violations] == [field]
    assert violations[0].description


def test_all_violations_are_reported_together() -> None:
    with pytest.raises(InvalidArgument) as info:
        ensure_valid_spec({"targetResource": "nope", "parameters": {"a": "b"}})
    fields = {v.field for v in info.value.violations}
    assert fields == {"spec.workflowRef", "spec.targetResource", "spec.parameters.a"}


def test_non_object_spec() -> None:
    assert [v.field for v in validate_spec("x")] == ["spec"]


def test_too_many_parameters() -> None:
    params = {f"P{i}": "v" for i in range(65)}
    assert [v.field for v in validate_spec(_with("parameters", params))] == ["spec.parameters"]
