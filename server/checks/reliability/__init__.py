"""Reliability pillar (REL-*): the checks, by theme.

probes       readiness and liveness probes, probe ports and repeated probes
disruption   PodDisruptionBudgets: missing, blocking evictions, badly formed
"""

from assay.server.checks.kit import Check
from assay.server.checks.reliability import (
    disruption,
    probes,
)

CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (
            *probes.CHECKS,
            *disruption.CHECKS,
        ),
        key=lambda check: check.id,
    )
)
