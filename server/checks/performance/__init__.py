"""Performance-efficiency pillar (PERF-*): the checks, by theme.

resources     container requests and limits
autoscaling   HorizontalPodAutoscalers and their targets
"""

from assay.server.checks.kit import Check
from assay.server.checks.performance import autoscaling, resources

CHECKS: tuple[Check, ...] = (*resources.CHECKS, *autoscaling.CHECKS)
