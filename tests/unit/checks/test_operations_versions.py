"""OPS-003 (deprecated APIs and fields) and OPS-004 (version support): the deprecation
table, version parsing, parameters through a policy file, and live inventories over the
API double at the cluster versions that matter (its default v1.31, and v1.24 and v1.36)."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.checks.operations.deprecations import (
    API_DEPRECATIONS,
    NEWEST_KNOWN_MINOR,
    api_deprecation,
)
from assay.server.checks.operations.versions import minor_of
from assay.server.core.types import Severity, Source, Status
from tests.unit.checks.objects import namespace, obj
from tests.unit.checks.runs import by_name, cluster, manifest_inventory, run, run_on, statuses

# -- OPS-003 ------------------------------------------------------------------------------


def test_the_deprecation_table_is_consistent() -> None:
    for entry in API_DEPRECATIONS:
        assert entry.removed_in is None or entry.deprecated_in <= entry.removed_in, entry
        assert entry.removed_in is None or entry.removed_in <= NEWEST_KNOWN_MINOR, entry
        assert entry.replacement and entry.replacement != entry.group_version, entry
    removed_in = {
        (gv, kind): api_deprecation(gv, kind)
        for gv, kind in [
            ("extensions/v1beta1", "Deployment"),
            ("apps/v1beta2", "StatefulSet"),
            ("policy/v1beta1", "PodSecurityPolicy"),
            ("policy/v1beta1", "PodDisruptionBudget"),
            ("batch/v1beta1", "CronJob"),
            ("autoscaling/v2beta1", "HorizontalPodAutoscaler"),
            ("autoscaling/v2beta2", "HorizontalPodAutoscaler"),
            ("networking.k8s.io/v1beta1", "Ingress"),
            ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
            ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"),
            ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
            ("storage.k8s.io/v1beta1", "CSIStorageCapacity"),
            ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
            ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema"),
            ("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration"),
            ("resource.k8s.io/v1alpha2", "ResourceClaim"),
        ]
    }
    assert {key: e.removed_in if e else None for key, e in removed_in.items()} == {
        ("extensions/v1beta1", "Deployment"): 16,
        ("apps/v1beta2", "StatefulSet"): 16,
        ("policy/v1beta1", "PodSecurityPolicy"): 25,
        ("policy/v1beta1", "PodDisruptionBudget"): 25,
        ("batch/v1beta1", "CronJob"): 25,
        ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): 25,
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): 26,
        ("networking.k8s.io/v1beta1", "Ingress"): 22,
        ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"): 22,
        ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"): 22,
        ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"): 22,
        ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): 27,
        ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"): 26,
        ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema"): 29,
        ("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration"): 32,
        ("resource.k8s.io/v1alpha2", "ResourceClaim"): 31,
    }
    # a served version of a kind the table does not name is not deprecated
    assert api_deprecation("storage.k8s.io/v1beta1", "VolumeAttributesClass") is None
    assert api_deprecation("apps/v1", "Deployment") is None


@pytest.mark.parametrize(
    ("version", "minor"),
    [
        ("v1.31.0", 31),
        ("v1.29.4-eks-036c24b", 29),
        ("v1.30.2+k3s1", 30),
        ("1.28", 28),
        ("v2.0.0", None),
        ("", None),
        ("latest", None),
        (None, None),
    ],
)
def test_minor_of_reads_distribution_versions(version: str | None, minor: int | None) -> None:
    assert minor_of(version) == minor


PDB_V1BETA1 = obj(
    "PodDisruptionBudget",
    "api",
    apiVersion="policy/v1beta1",
    spec={"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}},
)


def test_ops003_target_minor_parameter_grades_removal_and_deprecation() -> None:
    older = by_name(run("OPS-003", [PDB_V1BETA1], "target_minor: 20"))["api"]
    assert older.status is Status.PASSING  # policy/v1 arrived in 1.21, v1beta1 deprecated then
    deprecated = by_name(run("OPS-003", [PDB_V1BETA1], "target_minor: 21"))["api"]
    assert (deprecated.status, deprecated.severity) == (Status.FAILING, Severity.MEDIUM)
    assert "deprecated since v1.21, removed in v1.25" in deprecated.message
    removed = by_name(run("OPS-003", [PDB_V1BETA1], "target_minor: 25"))["api"]
    assert (removed.status, removed.severity) == (Status.FAILING, Severity.HIGH)
    assert "target v1.25" in removed.message


def last_applied(api_version: str, kind: str, name: str) -> dict[str, str]:
    body = f'{{"apiVersion":"{api_version}","kind":"{kind}","metadata":{{"name":"{name}"}}}}'
    return {"kubectl.kubernetes.io/last-applied-configuration": body}


async def test_ops003_live_judges_what_kubectl_applied_against_the_server_version() -> None:
    objects = [
        namespace("shop"),
        obj(
            "PodDisruptionBudget",
            "api",
            apiVersion="policy/v1",
            annotations=last_applied("policy/v1beta1", "PodDisruptionBudget", "api"),
            spec={"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}},
        ),
        # the API server mirrors serviceAccountName into serviceAccount on every pod
        obj(
            "Pod",
            "worker",
            spec={
                "serviceAccountName": "worker",
                "serviceAccount": "worker",
                "containers": [{"name": "app", "image": "registry.example.com/a:1"}],
            },
        ),
    ]
    async with cluster(objects, "OPS-003", version="v1.24.17") as old:
        found = by_name(run_on("OPS-003", old))
    assert (found["api"].status, found["api"].severity) == (Status.FAILING, Severity.MEDIUM)
    assert "last applied (kubectl) as policy/v1beta1" in found["api"].message
    assert "the cluster's v1.24.17" in found["api"].message
    assert found["worker"].status is Status.PASSING
    async with cluster(objects, "OPS-003") as current:  # the double's v1.31.0
        found = by_name(run_on("OPS-003", current))
    assert (found["api"].status, found["api"].severity) == (Status.FAILING, Severity.HIGH)
    assert found["worker"].status is Status.PASSING


def test_ops003_annotations_of_live_pods_are_not_judged() -> None:
    annotated = obj(
        "Pod",
        "agent",
        annotations={"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"},
        spec={"containers": [{"name": "app", "image": "registry.example.com/a:1"}]},
    )
    assert statuses(run("OPS-003", [annotated]))["agent"] is Status.FAILING
    assert statuses(run("OPS-003", [annotated], source=Source.LIVE))["agent"] is Status.PASSING


# -- OPS-004 ------------------------------------------------------------------------------


def node(name: str, kubelet: str) -> dict[str, Any]:
    return obj("Node", name, "", status={"nodeInfo": {"kubeletVersion": kubelet}})


async def test_ops004_live_server_version_against_the_window() -> None:
    nodes = [node("a", "v1.31.0")]
    async with cluster(nodes, "OPS-004") as inventory:  # the double says v1.31.0
        assert inventory.server_version == "v1.31.0-assay-double"
        found = by_name(run_on("OPS-004", inventory))
        assert found[""].status is Status.FAILING
        assert "v1.31 is out of support (supported: v1.35 to v1.37)" in found[""].message
        lenient = by_name(run_on("OPS-004", inventory, "oldest_supported_minor: 30"))
        assert lenient[""].status is Status.PASSING and lenient["a"].status is Status.PASSING
    async with cluster([node("a", "v1.36.2")], "OPS-004", version="v1.36.2") as inventory:
        assert statuses(run_on("OPS-004", inventory)) == {"": Status.PASSING, "a": Status.PASSING}
    [offline] = run_on("OPS-004", manifest_inventory(nodes))
    assert offline.status is Status.SKIPPED and "live" in offline.message


def test_ops004_kubelet_skew_and_unreadable_versions() -> None:
    nodes = [
        node("ahead", "v1.37.0"),
        node("behind", "v1.32.4"),
        node("ok", "v1.35.1"),
        node("odd", "unknown"),
    ]
    found = by_name(run("OPS-004", nodes, source=Source.LIVE, server_version="v1.36.2"))
    assert found["ahead"].status is Status.FAILING and "newer than the API server" in (
        found["ahead"].message
    )
    assert found["behind"].status is Status.FAILING and "4 minors behind" in found["behind"].message
    assert found["ok"].status is Status.PASSING
    assert found["odd"].status is Status.SKIPPED
    relaxed = run(
        "OPS-004",
        nodes,
        "{max_kubelet_skew: 4, oldest_supported_minor: 30}",
        source=Source.LIVE,
        server_version="v1.36.2",
    )
    assert statuses(relaxed)["behind"] is Status.PASSING
    newer = by_name(run("OPS-004", [], source=Source.LIVE, server_version="v1.38.0"))[""]
    assert newer.status is Status.PASSING and "newer than v1.37" in newer.message
