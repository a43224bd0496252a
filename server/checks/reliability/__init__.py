"""Reliability pillar (REL-*): the checks, by theme.

probes       readiness and liveness probes, probe ports and repeated probes
disruption   PodDisruptionBudgets: missing, blocking evictions, badly formed
replicas     replica counts, autoscaler minimums, spreading over nodes and zones
scheduling   PriorityClasses
rollout      rollout strategies, naked pods, controller selectors
containers   memory limits, mutable image tags, duplicate environment variables
services     Services: selectors, target ports, ready endpoints (REL-015..REL-017)
routing      Ingress and HTTPRoute backends (REL-018)
autoscaling  HPA targets (REL-019)
references   dangling references from pods and ServiceAccounts (REL-021)
health       pod health and workload availability, live (REL-023, REL-024)
storage      claims and volumes not bound, live (REL-025)
nodes        node health and failure domains, live (REL-026, REL-027)
batch        Jobs and CronJobs (REL-028)
backup       backup tool coverage of stateful namespaces (REL-029)
"""

from assay.server.checks.kit import Check
from assay.server.checks.reliability import (
    autoscaling,
    backup,
    batch,
    containers,
    disruption,
    health,
    nodes,
    probes,
    references,
    replicas,
    rollout,
    routing,
    scheduling,
    services,
    storage,
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
            *services.CHECKS,
            *routing.CHECKS,
            *autoscaling.CHECKS,
            *references.CHECKS,
            *health.CHECKS,
            *storage.CHECKS,
            *nodes.CHECKS,
            *batch.CHECKS,
            *backup.CHECKS,
        ),
        key=lambda check: check.id,
    )
)
