"""The CRD in deploy/ and the Python validator apply the same rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assay.server.workflow import validation as v
from assay.server.workflow.model import FailureReason, Phase, SkipReason

CRD_PATH = Path(__file__).parents[3] / "deploy" / "crds" / "workflowexecution.yaml"


def _crd() -> dict[str, Any]:
    with CRD_PATH.open() as fh:
        doc: dict[str, Any] = yaml.safe_load(fh)
    return doc


def _schema() -> dict[str, Any]:
    version = _crd()["spec"]["versions"][0]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]
    return schema


def test_identity() -> None:
    crd = _crd()
    assert crd["metadata"]["name"] == "workflowexecutions.workflowexecution.kubernaut.ai"
    assert crd["spec"]["names"]["shortNames"] == ["wfe"]
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Phase": ".status.phase",
        "Target": ".spec.targetResource",
        "Workflow": ".spec.workflowRef.workflowId",
        "Age": ".metadata.creationTimestamp",
    }


def test_spec_patterns_match_validator() -> None:
    spec = _schema()["spec"]
    props = spec["properties"]
    assert set(spec["required"]) == {"workflowRef", "targetResource"}
    ref = props["workflowRef"]
    assert set(ref["required"]) == {"workflowId", "version", "containerImage"}
    assert ref["properties"]["containerImage"]["pattern"] == v.CONTAINER_IMAGE_PATTERN
    assert ref["properties"]["containerImage"]["maxLength"] == v.CONTAINER_IMAGE_MAX
    assert ref["properties"]["containerDigest"]["pattern"] == v.CONTAINER_DIGEST_PATTERN
    assert ref["properties"]["workflowId"]["maxLength"] == v.WORKFLOW_ID_MAX
    assert ref["properties"]["version"]["maxLength"] == v.VERSION_MAX
    assert props["targetResource"]["pattern"] == v.TARGET_RESOURCE_PATTERN
    assert props["targetResource"]["maxLength"] == v.TARGET_RESOURCE_MAX
    params = props["parameters"]
    assert params["maxProperties"] == v.PARAMETERS_MAX
    assert params["additionalProperties"]["maxLength"] == v.PARAMETER_VALUE_MAX
    rule = params["x-kubernetes-validations"][0]["rule"]
    assert rule == f"self.all(k, k.matches('{v.PARAMETER_KEY_PATTERN}'))"
    assert props["confidence"]["minimum"] == 0
    assert props["confidence"]["maximum"] == 1
    assert props["rationale"]["maxLength"] == v.RATIONALE_MAX
    config = props["executionConfig"]["properties"]
    assert config["timeout"]["pattern"] == v.TIMEOUT_PATTERN
    assert config["serviceAccountName"]["pattern"] == v.SERVICE_ACCOUNT_PATTERN
    assert props["remediationRequestRef"]["required"] == ["name"]


def test_status_enums_match_domain_enums() -> None:
    status = _schema()["status"]["properties"]
    assert status["phase"]["enum"] == [p.value for p in Phase]
    assert status["skipDetails"]["properties"]["reason"]["enum"] == [r.value for r in SkipReason]
    failure_enum = status["failureDetails"]["properties"]["reason"]["enum"]
    assert failure_enum == [r.value for r in FailureReason]
