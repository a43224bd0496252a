"""Sustainability pillar (SUS-*): the checks, by theme.

capacity        provisioned capacity and what pods reserve of it
usage           measured node usage (metrics API)
consolidation   many tiny single-replica Deployments
scaling         scaling with demand
schedules       scale-down schedules of non-production namespaces
cleanup         terminated pods and finished Jobs left behind
"""

from assay.server.checks.kit import Check
from assay.server.checks.sustainability import (
    capacity,
    cleanup,
    consolidation,
    scaling,
    schedules,
    usage,
)

CHECKS: tuple[Check, ...] = (
    *capacity.CHECKS,
    *usage.CHECKS,
    *consolidation.CHECKS,
    *scaling.CHECKS,
    *schedules.CHECKS,
    *cleanup.CHECKS,
)
