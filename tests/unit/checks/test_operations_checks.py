"""Operational-excellence checks (OPS-002..OPS-012): parameters set through a policy file,
edge cases the fixtures cannot show, and live inventories over the Kubernetes API double
(with the cluster version for OPS-003/OPS-004, and the add-on APIs served or not)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import kubernetes.aio.client
import pytest

from assay.server.checks.operations.deprecations import (
    API_DEPRECATIONS,
    NEWEST_KNOWN_MINOR,
    api_deprecation,
)
from assay.server.checks.operations.ports import port_name_problem
from assay.server.checks.operations.versions import minor_of
from assay.server.core.types import Severity, Source, Status
from assay.server.inventory import Inventory
from tests.fixtures.fresh_cluster import crd, serve_builtin_apis
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.live import live_inventory, manifest_inventory
from tests.unit.checks.runs import REGISTRY, by_name, deployment, obj, run, run_on, statuses

Client = kubernetes.aio.client.ApiClient


@asynccontextmanager
async def cluster(
    objects: Iterable[dict[str, Any]],
    *check_ids: str,
    version: str | None = None,
    crds: Iterable[dict[str, Any]] = (),
    builtin_apis: bool = False,
) -> AsyncIterator[Inventory]:
    """A live inventory of ``objects`` for ``check_ids``, from a double whose /version says
    ``version`` (the double's own v1.31.0 by default), serving ``crds``."""
    info = None if version is None else {"gitVersion": version, "minor": str(minor_of(version))}
    async with KubeApiDouble(version_info=info) as api:
        if builtin_apis:
            serve_builtin_apis(api)
        for definition in crds:
            api.register_crd(definition)
        async with Client(api.aio_configuration()) as client:
            checks = [REGISTRY.get(i) for i in check_ids]
            yield await live_inventory(api, client, objects, checks=checks)
    assert not api.internal_errors


def namespace(name: str, **fields: Any) -> dict[str, Any]:
    return obj("Namespace", name, "", **fields)


# -- OPS-002 ------------------------------------------------------------------------------


def test_ops002_keys_and_inheritance_are_parameters() -> None:
    objects = [
        namespace("payments", labels={"cost-center": "fin-42"}),
        deployment("ledger", "payments"),
    ]
    assert set(statuses(run("OPS-002", objects)).values()) == {Status.FAILING}
    owned = run("OPS-002", objects, "owner_labels: [cost-center]")
    assert statuses(owned) == {"payments": Status.PASSING, "ledger": Status.PASSING}
    alone = run("OPS-002", objects, "{owner_labels: [cost-center], inherit_from_namespace: false}")
    assert statuses(alone) == {"payments": Status.PASSING, "ledger": Status.FAILING}


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


# -- OPS-006 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("http", ""),
        ("http-metrics", ""),
        ("h2c", ""),
        ("a" * 15, ""),
        ("a" * 16, "is longer than 15 characters"),
        ("HTTP", "has characters other than lowercase letters, digits and inner hyphens"),
        ("-http", "has characters other than lowercase letters, digits and inner hyphens"),
        ("http_alt", "has characters other than lowercase letters, digits and inner hyphens"),
        ("web--ui", "has two hyphens in a row"),
        ("8080", "has no letter"),
    ],
)
def test_port_names_follow_the_iana_rule(name: str, problem: str) -> None:
    assert port_name_problem(name) == problem


def test_ops006_external_name_and_selectorless_services() -> None:
    external = obj("Service", "db", spec={"type": "ExternalName", "externalName": "db.example"})
    manual = obj("Service", "legacy", spec={"ports": [{"name": "pg", "port": 5432}]})
    assert statuses(run("OPS-006", [external, manual])) == {
        "db": Status.PASSING,
        "legacy": Status.PASSING,
    }


# -- OPS-007 ------------------------------------------------------------------------------


def apiservice(name: str, available: bool) -> dict[str, Any]:
    condition = {"type": "Available", "status": "True" if available else "False"}
    return obj(
        "APIService",
        name,
        "",
        apiVersion="apiregistration.k8s.io/v1",
        spec={"group": name.split(".", 1)[1], "version": name.split(".", 1)[0]},
        status={"conditions": [condition]},
    )


async def test_ops007_live_metrics_apiservice() -> None:
    local = apiservice("v1.apps", True)
    async with cluster([local], "OPS-007", builtin_apis=True) as inventory:
        [absent] = run_on("OPS-007", inventory)
    assert absent.status is Status.FAILING and "no APIService v1beta1.metrics.k8s.io" in (
        absent.message
    )
    metrics = apiservice("v1beta1.metrics.k8s.io", True)
    async with cluster([local, metrics], "OPS-007", builtin_apis=True) as inventory:
        assert statuses(run_on("OPS-007", inventory)) == {"v1beta1.metrics.k8s.io": Status.PASSING}
        custom = run_on("OPS-007", inventory, "apiservice: v1beta1.custom.metrics.k8s.io")
        assert [f.status for f in custom] == [Status.FAILING]
    # a cluster whose aggregation API cannot be read: no verdict either way
    async with cluster([], "OPS-007") as inventory:
        [blind] = run_on("OPS-007", inventory)
    assert blind.status is Status.SKIPPED and "apiregistration.k8s.io" in blind.message


# -- OPS-008 ------------------------------------------------------------------------------

SERVICE = obj("Service", "api", labels={"app": "api"}, spec={"selector": {"app": "api"}})
MONITORING_CRDS = [
    crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"),
    crd("monitoring.coreos.com", "PodMonitor", "podmonitors"),
]


async def test_ops008_live_not_applicable_without_a_recognised_monitoring_system() -> None:
    objects = [namespace("shop"), SERVICE, deployment("api")]
    async with cluster(objects, "OPS-008") as inventory:
        [finding] = run_on("OPS-008", inventory)
    assert finding.status is Status.SKIPPED and "not applicable" in finding.message
    # the Prometheus Operator installed: the Service is a blind spot
    async with cluster(objects, "OPS-008", crds=MONITORING_CRDS) as inventory:
        assert statuses(run_on("OPS-008", inventory)) == {"api": Status.FAILING}
        monitor = obj(
            "ServiceMonitor",
            "everything",
            "monitoring",
            apiVersion="monitoring.coreos.com/v1",
            spec={"namespaceSelector": {"any": True}, "selector": {}},
        )
    async with cluster(
        [*objects, namespace("monitoring"), monitor], "OPS-008", crds=MONITORING_CRDS
    ) as inventory:
        found = statuses(run_on("OPS-008", inventory))
    assert found["api"] is Status.PASSING and found["everything"] is Status.PASSING


def test_ops008_annotations_alone_make_it_applicable() -> None:
    annotated = obj(
        "Service",
        "web",
        annotations={"prometheus.io/scrape": "true"},
        spec={"selector": {"app": "web"}},
    )
    assert statuses(run("OPS-008", [annotated, SERVICE])) == {
        "web": Status.PASSING,
        "api": Status.FAILING,
    }


# -- OPS-009 ------------------------------------------------------------------------------


def event(name: str, reason: str, about: str, count: int, kind: str = "Warning") -> dict[str, Any]:
    return obj(
        "Event",
        name,
        type=kind,
        reason=reason,
        message=f"{reason} on {about}",
        count=count,
        involvedObject={"kind": "Pod", "namespace": "shop", "name": about},
    )


async def test_ops009_live_events_and_min_count() -> None:
    objects = [
        namespace("shop"),
        event("a.1", "BackOff", "web-1", 3),
        event("a.2", "FailedMount", "db-0", 1),
        event("a.3", "Pulled", "web-1", 1, kind="Normal"),
    ]
    async with cluster(objects, "OPS-009") as inventory:
        found = by_name(run_on("OPS-009", inventory))
        assert set(found) == {"web-1", "db-0"}
        assert "BackOff x3 (BackOff on web-1)" in found["web-1"].message
        assert statuses(run_on("OPS-009", inventory, "min_count: 2")) == {"web-1": Status.FAILING}
        only_mounts = run_on("OPS-009", inventory, "reasons: [FailedMount]")
        assert statuses(only_mounts) == {"db-0": Status.FAILING}
    [offline] = run_on("OPS-009", manifest_inventory(objects))
    assert offline.status is Status.SKIPPED


# -- OPS-010 ------------------------------------------------------------------------------


async def test_ops010_live_flux_served_counts_as_gitops() -> None:
    objects = [namespace("shop"), deployment("web")]
    async with cluster(objects, "OPS-010") as inventory:
        [finding] = run_on("OPS-010", inventory)
    assert finding.status is Status.FAILING and "shop/web" in finding.message
    flux = [crd("kustomize.toolkit.fluxcd.io", "Kustomization", "kustomizations")]
    async with cluster(objects, "OPS-010", crds=flux) as inventory:
        [finding] = run_on("OPS-010", inventory)
    assert finding.status is Status.PASSING
    assert "served API kustomize.toolkit.fluxcd.io" in finding.message


def test_ops010_managed_by_label_is_a_parameter() -> None:
    web = deployment("web")
    web["metadata"]["labels"] = {"deployed-by": "spinnaker"}
    assert run("OPS-010", [web])[0].status is Status.FAILING
    assert run("OPS-010", [web], "managed_by_label: deployed-by")[0].status is Status.PASSING


# -- OPS-011 ------------------------------------------------------------------------------


async def test_ops011_live_engines_and_blind_spots() -> None:
    # the double serves no admissionregistration.k8s.io: nothing can be said
    async with cluster([], "OPS-011") as inventory:
        [blind] = run_on("OPS-011", inventory)
    assert blind.status is Status.SKIPPED
    async with cluster([], "OPS-011", builtin_apis=True) as inventory:
        [none] = run_on("OPS-011", inventory)
    assert none.status is Status.FAILING
    kyverno = [crd("kyverno.io", "ClusterPolicy", "clusterpolicies", cluster=True)]
    policy = obj("ClusterPolicy", "require-labels", "", apiVersion="kyverno.io/v1", spec={})
    async with cluster([policy], "OPS-011", crds=kyverno) as inventory:
        [found] = run_on("OPS-011", inventory)
    assert found.status is Status.PASSING and "Kyverno (1 policy)" in found.message


def test_ops011_extra_policy_webhooks_are_a_parameter() -> None:
    webhook = obj(
        "ValidatingWebhookConfiguration",
        "kubewarden-policy-server",
        "",
        apiVersion="admissionregistration.k8s.io/v1",
        webhooks=[{"name": "clusterwide-no-privileged.kubewarden.admission"}],
    )
    assert run("OPS-011", [webhook])[0].status is Status.FAILING
    [found] = run("OPS-011", [webhook], "policy_webhooks: [kubewarden-policy-server]")
    assert found.status is Status.PASSING


# -- OPS-012 ------------------------------------------------------------------------------


def test_ops012_thresholds_are_parameters() -> None:
    web = deployment("web")
    web["spec"] |= {"revisionHistoryLimit": 1, "progressDeadlineSeconds": 1200}
    assert statuses(run("OPS-012", [web]))["web"] is Status.PASSING
    strict = "{min_revision_history: 2, max_progress_deadline_seconds: 900}"
    finding = by_name(run("OPS-012", [web], strict))["web"]
    assert finding.status is Status.FAILING
    assert "revisionHistoryLimit 1" in finding.message and "1200" in finding.message
    bare = deployment("bare")
    assert (
        statuses(run("OPS-012", [bare], "require_progress_deadline: false"))["bare"]
        is Status.PASSING
    )
