"""Reliability pillar (REL-*): the checks, by theme.

probes       readiness and liveness probes
disruption   PodDisruptionBudgets
"""

from assay.server.checks.kit import Check
from assay.server.checks.reliability import disruption, probes

CHECKS: tuple[Check, ...] = (*probes.CHECKS, *disruption.CHECKS)
