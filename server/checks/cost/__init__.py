"""Cost-optimization pillar (COST-*): the checks, by theme.

usage     requests compared with measured usage (metrics API)
orphans   objects nothing uses
jobs      finished batch work kept around
"""

from assay.server.checks.cost import jobs, orphans, usage
from assay.server.checks.kit import Check

CHECKS: tuple[Check, ...] = (*usage.CHECKS, *orphans.CHECKS, *jobs.CHECKS)
