"""Performance-efficiency pillar (PERF-*): the checks, by theme.

resources     container requests and limits, and the QoS class they give
autoscaling   HorizontalPodAutoscalers (and KEDA ScaledObjects) and their targets
vertical      VerticalPodAutoscalers next to horizontal autoscalers
"""

from assay.server.checks.kit import Check
from assay.server.checks.performance import autoscaling, resources, vertical

CHECKS: tuple[Check, ...] = (*resources.CHECKS, *autoscaling.CHECKS, *vertical.CHECKS)
