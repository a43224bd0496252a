"""Cost-optimization pillar (COST-*): the checks, by theme.

sizing    limits far above requests, requests far above their peers
capacity  load balancers, idle workloads and namespaces, spot capacity
identities ServiceAccounts and roles nothing uses
usage     requests compared with measured usage (metrics API)
orphans   objects nothing uses
jobs      finished batch work kept around
"""

from assay.server.checks.cost import capacity, identities, jobs, orphans, sizing, usage
from assay.server.checks.kit import Check

CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (
            *usage.CHECKS,
            *sizing.CHECKS,
            *orphans.CHECKS,
            *capacity.CHECKS,
            *identities.CHECKS,
            *jobs.CHECKS,
        ),
        key=lambda check: check.id,
    )
)
