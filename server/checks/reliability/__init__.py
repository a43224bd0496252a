"""Reliability pillar (REL-*): the checks, by theme.

probes       readiness and liveness probes, probe ports and repeated probes
disruption   PodDisruptionBudgets: missing, blocking evictions, badly formed
replicas     replica counts, autoscaler minimums, spreading over nodes and zones
scheduling   PriorityClasses
rollout      rollout strategies, naked pods, controller selectors
containers   memory limits, mutable image tags, duplicate environment variables
"""

from assay.server.checks.kit import Check
from assay.server.checks.reliability import (
    containers,
    disruption,
    probes,
    replicas,
    rollout,
    scheduling,
)

CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (
            *probes.CHECKS,
            *disruption.CHECKS,
            *replicas.CHECKS,
            *scheduling.CHECKS,
            *rollout.CHECKS,
            *containers.CHECKS,
        ),
        key=lambda check: check.id,
    )
)
