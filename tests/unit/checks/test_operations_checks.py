"""Operational-excellence checks OPS-002 and OPS-006..OPS-012 (OPS-003/OPS-004 in
test_operations_versions.py): parameters set through a policy file, edge cases the fixtures
cannot show, and live inventories over the Kubernetes API double with the add-on APIs
served or not."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.checks.operations.ports import port_name_problem
from assay.server.core.types import Status
from tests.fixtures.fresh_cluster import crd
from tests.unit.checks.objects import deployment, namespace, obj
from tests.unit.checks.runs import (
    by_name,
    cluster,
    manifest_inventory,
    run,
    run_on,
    statuses,
)

# -- OPS-002 ------------------------------------------------------------------------------


def test_ops002_keys_and_inheritance_are_parameters() -> None:
    objects = [
        namespace("payments", labels={"cost-center": "fin-42"}),
        deployment("ledger", namespace="payments"),
    ]
    assert set(statuses(run("OPS-002", objects)).values()) == {Status.FAILING}
    owned = run("OPS-002", objects, "owner_labels: [cost-center]")
    assert statuses(owned) == {"payments": Status.PASSING, "ledger": Status.PASSING}
    alone = run("OPS-002", objects, "{owner_labels: [cost-center], inherit_from_namespace: false}")
    assert statuses(alone) == {"payments": Status.PASSING, "ledger": Status.FAILING}


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
