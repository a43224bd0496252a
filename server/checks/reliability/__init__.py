"""Reliability pillar (REL-*): the checks, by theme.

probes       readiness and liveness probes
disruption   PodDisruptionBudgets
services     Services: selectors, target ports, ready endpoints (REL-015..REL-017)
routing      Ingress and HTTPRoute backends (REL-018)
autoscaling  HPA targets (REL-019)
references   dangling references from pods and ServiceAccounts (REL-021)
"""

from assay.server.checks.kit import Check
from assay.server.checks.reliability import (
    autoscaling,
    disruption,
    probes,
    references,
    routing,
    services,
)

CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (
            *probes.CHECKS,
            *disruption.CHECKS,
            *services.CHECKS,
            *routing.CHECKS,
            *autoscaling.CHECKS,
            *references.CHECKS,
        ),
        key=lambda c: c.id,
    )
)
"""In id order, whichever module holds each check."""
