"""Reliability checks on container probes."""

from __future__ import annotations

from assay.server.checks.kit import (
    LONG_RUNNING,
    REGULAR_CONTAINERS,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    per_container,
)
from assay.server.core.types import Pillar, Severity
from assay.server.inventory import WORKLOAD_KINDS, Container, Workload

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
    applies_to=LONG_RUNNING,
    notes=(
        "Stricter than kube-score, which asks for a readiness probe only on pods a Service "
        "selects: a pod outside any Service today is often put behind one tomorrow.",
    ),
)


@per_container(REL_001, containers=REGULAR_CONTAINERS)
def readiness_probe(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
    if container.spec.get("readinessProbe"):
        return ok("has a readinessProbe")
    return fail(f"{container.role} has no readinessProbe")


CHECKS = (readiness_probe,)
