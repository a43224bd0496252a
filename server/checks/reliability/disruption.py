"""Reliability checks on voluntary disruptions: PodDisruptionBudgets."""

from __future__ import annotations

from assay.server.checks.kit import (
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_workload,
    replicated,
)
from assay.server.checks.kit.applies import expected_replicas
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import Workload
from assay.server.inventory.raw import name_of

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
    applies_to=replicated(2),
)


@per_workload(REL_005)
def pdb_missing(workload: Workload, ctx: Context[NoParams]) -> Verdict:
    replicas = expected_replicas(ctx.inventory, workload)
    pdbs = ctx.inventory.pdbs_selecting(workload.namespace, workload.labels)
    if pdbs:
        names = ", ".join(name_of(p) for p in pdbs)
        return ok(f"{replicas} replicas covered by PDB {names}")
    return fail(
        f"{replicas} replicas and no PodDisruptionBudget in namespace "
        f"{workload.namespace} selects its pod labels"
    )


CHECKS = (pdb_missing,)
