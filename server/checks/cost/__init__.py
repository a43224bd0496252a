"""Cost-optimization pillar (COST-*): the checks, by theme.

sizing    limits far above requests, requests far above their peers
capacity  load balancers, idle workloads and namespaces, spot capacity
identities ServiceAccounts and roles nothing uses
orphans   objects nothing uses
jobs      finished batch work kept around
"""

from assay.server.checks.cost import capacity, identities, jobs, orphans, sizing
from assay.server.checks.kit import Check

CHECKS: tuple[Check, ...] = (*orphans.CHECKS, *jobs.CHECKS)
CHECKS += (*sizing.CHECKS, *capacity.CHECKS, *identities.CHECKS)
