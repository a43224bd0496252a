"""Performance-efficiency pillar (PERF-*): the checks, by theme.

resources     container requests and limits, and the QoS class they give
autoscaling   HorizontalPodAutoscalers (and KEDA ScaledObjects) and their targets
vertical      VerticalPodAutoscalers next to horizontal autoscalers
capacity      whether autoscalers can reach their maximum on the cluster's nodes
usage         measured usage (metrics API) of containers and nodes
namespaces    LimitRanges and ResourceQuotas per namespace
placement     node selectors, affinity, taints and pods the scheduler could not place
"""

from assay.server.checks.kit import Check
from assay.server.checks.performance import (
    autoscaling,
    capacity,
    namespaces,
    placement,
    resources,
    usage,
    vertical,
)

CHECKS: tuple[Check, ...] = (
    *resources.CHECKS,
    *autoscaling.CHECKS,
    *vertical.CHECKS,
    *capacity.CHECKS,
    *usage.CHECKS,
    *namespaces.CHECKS,
    *placement.CHECKS,
)
