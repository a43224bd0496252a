"""The whole catalogue over a freshly created cluster, served by the API double and loaded
by the live loader: every check runs, and the labelling, default-namespace, orphan, usage
and hygiene checks say nothing about the objects Kubernetes creates itself.

What a fresh kubeadm cluster really lacks (a metrics API, an admission policy engine, audit
logging) is reported, and only that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import kubernetes.aio.client
import pytest_asyncio

from assay.server.checks import BUILTIN_CHECKS
from assay.server.checks.kit import Check, Finding
from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory
from tests.fixtures.fresh_cluster import (
    KUBERNETES_VERSION,
    NODE,
    fresh_cluster_objects,
    serve_builtin_apis,
)
from tests.kubeapi import KubeApiDouble
from tests.unit.checks.runs import live_inventory, manifest_inventory

QUIET = (
    "COST-002",
    "COST-003",
    "COST-004",
    "COST-005",
    "COST-006",
    "COST-007",
    "COST-008",
    "COST-010",
    "OPS-001",
    "OPS-002",
    "OPS-003",
    "OPS-004",
    "OPS-005",
    "OPS-006",
    "OPS-008",
    "OPS-009",
    "OPS-010",
    "OPS-012",
)
"""Checks that must find nothing to fail in a fresh cluster."""

EXPECTED_LIVE: dict[str, set[tuple[str, str]]] = {
    # no metrics-server: kubeadm does not install one
    "OPS-007": {("", "")},
    # no policy engine, and kubeadm starts kube-apiserver without audit flags
    "OPS-011": {("", ""), ("Pod", f"kube-apiserver-{NODE}")},
}
"""The real findings about a fresh cluster: (kind, name) of each failing result."""

Client = kubernetes.aio.client.ApiClient


@pytest_asyncio.fixture
async def fresh_cluster() -> AsyncIterator[Inventory]:
    """The fresh cluster as the live loader reads it, from a double at its version."""
    minor = KUBERNETES_VERSION.split(".")[1]
    version = {"major": "1", "minor": minor, "gitVersion": KUBERNETES_VERSION}
    async with KubeApiDouble(version_info=version) as api:
        serve_builtin_apis(api)
        yield await live_inventory(api, fresh_cluster_objects(), checks=BUILTIN_CHECKS)
    assert not api.internal_errors


def failing(findings: list[Finding]) -> set[tuple[str, str]]:
    return {
        (f.object.kind, f.object.name) if f.object else ("", "")
        for f in findings
        if f.status in (Status.FAILING, Status.WARNING)
    }


async def test_every_check_runs_on_a_fresh_cluster(fresh_cluster: Inventory) -> None:
    assert fresh_cluster.source is Source.LIVE
    assert fresh_cluster.server_version == KUBERNETES_VERSION
    for check in BUILTIN_CHECKS:
        findings = evaluate(check, fresh_cluster)  # raises if the check fails on these objects
        assert findings, check.id


async def test_own_objects_are_never_findings_live(fresh_cluster: Inventory) -> None:
    by_check = {c.id: evaluate(c, fresh_cluster) for c in BUILTIN_CHECKS}
    for check_id in QUIET:
        assert failing(by_check[check_id]) == set(), (check_id, by_check[check_id])
    for check_id, expected in EXPECTED_LIVE.items():
        assert failing(by_check[check_id]) == expected, (check_id, by_check[check_id])


async def test_fresh_cluster_is_seen_whole_live(fresh_cluster: Inventory) -> None:
    """Guards the test above: the quiet checks really looked at the cluster's objects."""
    assert {"ConfigMap", "Secret", "ServiceAccount", "ClusterRole", "APIService"} <= set(
        fresh_cluster.kinds()
    )
    by_check = {c.id: evaluate(c, fresh_cluster) for c in BUILTIN_CHECKS}
    passing = {
        check_id: {f.object.name if f.object else "" for f in found if f.status is Status.PASSING}
        for check_id, found in by_check.items()
    }
    assert {"", NODE} <= passing["OPS-004"]  # v1.36 control plane and kubelet: supported
    assert "attachdetach-controller" in passing["COST-008"]  # bound by its system: role
    # CoreDNS is kubeadm's: left out, so the workload checks have nothing else to judge
    [skipped] = by_check["OPS-012"]
    assert skipped.status is Status.SKIPPED and "not created by Kubernetes" in skipped.message


def test_own_objects_are_never_findings_in_manifests() -> None:
    inventory = manifest_inventory(fresh_cluster_objects())
    for check in BUILTIN_CHECKS:
        findings = evaluate(check, inventory)
        if check.id in QUIET:
            assert failing(findings) == set(), (check.id, findings)
    assert failing(evaluate(_check("OPS-011"), inventory)) == EXPECTED_LIVE["OPS-011"]


def _check(check_id: str) -> Check:
    return next(c for c in BUILTIN_CHECKS if c.id == check_id)
