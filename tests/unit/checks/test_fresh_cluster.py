"""The whole catalogue over a freshly created cluster: live from the API double (a single-node
kubeadm cluster as kind makes it; and one with two workers joined and metrics-server
installed) and as manifests. Every check runs, and every check is quiet about the objects
Kubernetes creates, except for the real findings listed in :data:`KNOWN` with their reasons.

metrics-server's own objects are not Kubernetes' (the owner installs it like any workload),
so what the checks say about them is left out here; its samples of Kubernetes' pods and
nodes are what the metrics checks judge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum

import pytest
import pytest_asyncio

from assay.server.checks import BUILTIN_CHECKS
from assay.server.checks.kit import Finding
from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory
from tests.fixtures.fresh_cluster import (
    KUBERNETES_VERSION,
    NODE,
    fresh_cluster_objects,
    metrics_server_objects,
    serve_builtin_apis,
    serve_metrics_api,
)
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.runs import REGISTRY, by_name, live_inventory, manifest_inventory, statuses


class Cluster(StrEnum):
    LIVE = "live"
    """kind's single control-plane node, loaded live: no metrics API."""
    METRICS = "metrics"
    """Two workers joined and metrics-server installed, loaded live with the metrics API."""
    MANIFESTS = "manifests"
    """The single-node cluster's objects read as manifests."""


EVERYWHERE = frozenset(Cluster)
LIVE_ONLY = frozenset({Cluster.LIVE, Cluster.METRICS})


@dataclass(frozen=True)
class Known:
    """A real finding about a fresh cluster: the subjects it fails or warns about ("Kind/name",
    "" for the cluster as a whole) and where it shows."""

    reason: str
    subjects: frozenset[str]
    where: frozenset[Cluster] = EVERYWHERE


def known(reason: str, *subjects: str, where: frozenset[Cluster] = EVERYWHERE) -> Known:
    return Known(reason, frozenset(subjects), where)


COREDNS, KUBE_PROXY = "Deployment/coredns", "DaemonSet/kube-proxy"

KNOWN = {
    # what the cluster lacks
    "OPS-007": known("kubeadm installs no metrics-server", "", where=frozenset({Cluster.LIVE})),
    "OPS-011": known(
        "no policy engine, and kubeadm starts kube-apiserver without audit flags",
        "",
        f"Pod/kube-apiserver-{NODE}",
    ),
    "REL-027": known(
        "one control-plane node and no zone labels: no failure domain to survive",
        "",
        where=LIVE_ONLY,
    ),
    "SUS-001": known(
        "an empty cluster reserves almost none of its capacity",
        "",
        where=frozenset({Cluster.METRICS}),
    ),
    "SUS-002": known(
        "workers with nothing scheduled are idle",
        "Node/kind-worker",
        "Node/kind-worker2",
        where=frozenset({Cluster.METRICS}),
    ),
    "OPS-010": known(
        "metrics-server, the one workload not Kubernetes', came with no GitOps tool",
        "",
        where=frozenset({Cluster.METRICS}),
    ),
    "SEC-025": known(
        "no NetworkPolicy denies by default in namespace default", "Namespace/default"
    ),
    "SEC-030": known("namespace default enforces no Pod Security level", "Namespace/default"),
    # kubeadm's own choices
    "SEC-020": known(
        "kubeadm binds cluster-admin to its kubeadm:cluster-admins group",
        "ClusterRoleBinding/kubeadm:cluster-admins",
    ),
    "SEC-023": known(
        "the bootstrap leader-locking bindings name ServiceAccounts kubeadm never creates",
        "RoleBinding/system::leader-locking-kube-controller-manager",
        "RoleBinding/system::leader-locking-kube-scheduler",
    ),
    # kube-proxy programs the node's network: privileged on the host by design
    "SEC-001": known("kube-proxy runs privileged", KUBE_PROXY),
    "SEC-002": known("kube-proxy leaves privilege escalation allowed", KUBE_PROXY),
    "SEC-004": known("kube-proxy writes to its root filesystem", KUBE_PROXY),
    "SEC-006": known("kube-proxy keeps every capability", KUBE_PROXY),
    "SEC-009": known("kube-proxy shares the host network", KUBE_PROXY),
    "SEC-011": known("kube-proxy mounts xtables.lock and /lib/modules from the host", KUBE_PROXY),
    "REL-001": known("kube-proxy has no readinessProbe", KUBE_PROXY),
    "REL-002": known("kube-proxy has no livenessProbe", KUBE_PROXY),
    "REL-012": known("kube-proxy has no memory limit", KUBE_PROXY),
    "PERF-001": known("kube-proxy requests no cpu or memory", KUBE_PROXY),
    # the add-ons' pod specs as kubeadm writes them
    "SEC-003": known("CoreDNS and kube-proxy do not set runAsNonRoot", COREDNS, KUBE_PROXY),
    "SEC-007": known("CoreDNS and kube-proxy set no seccomp profile", COREDNS, KUBE_PROXY),
    "SEC-014": known("CoreDNS and kube-proxy mount their API token", COREDNS, KUBE_PROXY),
    "SEC-029": known("kubeadm's images are pulled by tag, not digest", COREDNS, KUBE_PROXY),
    "REL-013": known(
        "by tag with IfNotPresent: a re-pushed tag differs by node", COREDNS, KUBE_PROXY
    ),
    "REL-003": known("CoreDNS probes ports 8080 and 8181 it does not declare", COREDNS),
    "REL-005": known("kubeadm makes no PodDisruptionBudget for CoreDNS", COREDNS),
    "REL-008": known("CoreDNS's two replicas are not spread over nodes", COREDNS),
}
"""The findings a fresh cluster really has, by check id."""

LOUD = (Status.FAILING, Status.WARNING)
METRICS_SERVER = {(o["kind"], o["metadata"]["name"]) for o in metrics_server_objects()}


@pytest_asyncio.fixture(params=list(Cluster))
async def fresh(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Cluster, Inventory]]:
    """The fresh cluster of each kind, as the catalogue reads it."""
    cluster = Cluster(request.param)
    if cluster is Cluster.MANIFESTS:
        yield cluster, manifest_inventory(fresh_cluster_objects())
        return
    minor = KUBERNETES_VERSION.split(".")[1]
    version = {"major": "1", "minor": minor, "gitVersion": KUBERNETES_VERSION}
    with_metrics = cluster is Cluster.METRICS
    objects = fresh_cluster_objects(workers=2 if with_metrics else 0, metrics_server=with_metrics)
    async with KubeApiDouble(version_info=version) as api:
        serve_builtin_apis(api)
        if with_metrics:
            serve_metrics_api(api)
        yield cluster, await live_inventory(api, objects, checks=BUILTIN_CHECKS)
    assert not api.internal_errors


def loud_subjects(findings: list[Finding]) -> set[str]:
    """ "Kind/name" of each failing or warning result about Kubernetes' own objects."""
    return {
        f"{f.object.kind}/{f.object.name}" if f.object else ""
        for f in findings
        if f.status in LOUD and not (f.object and (f.object.kind, f.object.name) in METRICS_SERVER)
    }


async def test_every_check_is_quiet_but_for_the_known_findings(
    fresh: tuple[Cluster, Inventory],
) -> None:
    cluster, inventory = fresh
    loud = {}
    for check in BUILTIN_CHECKS:
        findings = evaluate(check, inventory)  # raises if the check fails on these objects
        assert findings, check.id
        if subjects := loud_subjects(findings):
            loud[check.id] = subjects
    expected = {i: k.subjects for i, k in KNOWN.items() if cluster in k.where}
    assert loud == expected


async def test_the_checks_saw_the_whole_cluster(fresh: tuple[Cluster, Inventory]) -> None:
    """Guards the test above: the quiet checks really looked at the cluster's objects."""
    cluster, inventory = fresh
    assert inventory.source is (Source.MANIFESTS if cluster is Cluster.MANIFESTS else Source.LIVE)
    kinds = {"ConfigMap", "Secret", "ServiceAccount", "ClusterRole", "APIService", "Pod", "Node"}
    assert kinds <= set(inventory.kinds())

    def passing(check_id: str) -> set[str]:
        found = statuses(evaluate(REGISTRY.get(check_id), inventory))
        return {name for name, status in found.items() if status is Status.PASSING}

    assert "attachdetach-controller" in passing("COST-008")  # bound by its system: role
    # CoreDNS is kubeadm's: left out, so the workload hygiene checks judge only metrics-server
    hygiene = evaluate(REGISTRY.get("OPS-012"), inventory)
    if cluster is Cluster.METRICS:
        assert set(by_name(hygiene)) == {"metrics-server"}
    else:
        [skipped] = hygiene
        assert skipped.status is Status.SKIPPED and "not created by Kubernetes" in skipped.message
    if cluster is Cluster.MANIFESTS:
        return
    assert inventory.server_version == KUBERNETES_VERSION
    assert {"", NODE} <= passing("OPS-004")  # v1.36 control plane and kubelet: supported
    if cluster is Cluster.LIVE:
        assert not inventory.has_api("metrics.k8s.io")
        return
    assert inventory.has_api("metrics.k8s.io")
    assert len(inventory.objects("NodeMetrics")) == 3
    assert len(inventory.objects("PodMetrics")) == len(
        [p for p in inventory.objects("Pod") if p["status"]["phase"] == "Running"]
    )
    assert passing("OPS-007") == {"v1beta1.metrics.k8s.io"}
    assert passing("PERF-010") == {NODE, "kind-worker", "kind-worker2"}
    # containers that request cpu or memory are judged against their samples
    assert passing("PERF-009") == {"coredns", "metrics-server"}
