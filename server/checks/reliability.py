"""Reliability pillar checks (REL-*): definitions and their functions over the inventory.

Collected into the built-in registry by :mod:`assay.server.checks`.
"""

from __future__ import annotations

from collections.abc import Iterator

from assay.server.checks.kit.definition import Check, CheckDefinition, Finding, check
from assay.server.checks.kit.podspec import LONG_RUNNING_CONTAINERS
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Inventory, Workload
from assay.server.inventory.raw import dig, int_or_none, name_of

REL_001 = CheckDefinition(
    id="REL-001",
    pillar=Pillar.RELIABILITY,
    name="Readiness probe missing",
    description=(
        "Without a readiness probe a long-running container receives traffic as soon as it "
        "starts and keeps receiving it while it is unable to serve."
    ),
    severity=Severity.HIGH,
    scope="W",
    remediation=(
        "Add a readinessProbe (httpGet on a health endpoint, tcpSocket or grpc) that succeeds "
        "only when the container can serve requests; keep it cheap, and distinct from the "
        "livenessProbe so a slow dependency takes the pod out of rotation without restarting it."
    ),
    kinds=WORKLOAD_KINDS,
)

REL_005 = CheckDefinition(
    id="REL-005",
    pillar=Pillar.RELIABILITY,
    name="PDB missing",
    description=(
        "A replicated workload without a PodDisruptionBudget can lose all its pods at once "
        "during node drains, cluster upgrades or autoscaler scale-downs."
    ),
    severity=Severity.MEDIUM,
    scope="X",
    remediation=(
        "Create a PodDisruptionBudget (policy/v1) in the workload's namespace whose selector "
        "matches the pod template labels, with maxUnavailable: 1 (or a minAvailable below the "
        "replica count) so voluntary evictions proceed one pod at a time."
    ),
    kinds=(
        "Deployment",
        "StatefulSet",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ScaledObject",
    ),
)

MIN_REPLICAS_FOR_PDB = 2


def readiness_probe(inventory: Inventory) -> Iterator[Finding]:
    for workload in inventory.workloads():
        if workload.is_batch:
            continue  # runs to completion: nothing routes traffic to it
        for container in workload.containers(LONG_RUNNING_CONTAINERS):
            if container.spec.get("readinessProbe"):
                yield Finding.passing(workload.ref, "has a readinessProbe", container.name)
            else:
                yield Finding.failing(workload.ref, "no readinessProbe", container.name)


def expected_replicas(inventory: Inventory, workload: Workload) -> int:
    """The replica count to plan for: ``spec.replicas`` (default 1) or, when an autoscaler
    targets the workload, the largest minimum it keeps."""
    count = workload.replicas or 0
    for scaler in inventory.scalers_targeting(workload.kind, workload.namespace, workload.name):
        if scaler.get("kind") == "HorizontalPodAutoscaler":
            field, default = "minReplicas", 1
        else:  # a KEDA ScaledObject
            field, default = "minReplicaCount", 0
        minimum = int_or_none(dig(scaler, "spec").get(field))
        count = max(count, default if minimum is None else minimum)
    return count


def pdb_missing(inventory: Inventory) -> Iterator[Finding]:
    for workload in inventory.workloads():
        if workload.kind not in ("Deployment", "StatefulSet"):
            continue
        replicas = expected_replicas(inventory, workload)
        if replicas < MIN_REPLICAS_FOR_PDB:
            continue
        pdbs = inventory.pdbs_selecting(workload.namespace, workload.labels)
        if pdbs:
            names = ", ".join(name_of(p) for p in pdbs)
            yield Finding.passing(workload.ref, f"{replicas} replicas covered by PDB {names}")
        else:
            yield Finding.failing(
                workload.ref,
                f"{replicas} replicas and no PodDisruptionBudget in namespace "
                f"{workload.namespace} selects its pod labels",
            )


CHECKS: tuple[Check, ...] = (
    check(REL_001)(readiness_probe),
    check(REL_005)(pdb_missing),
)
