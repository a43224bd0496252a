"""Cost-optimization pillar (COST-*): the checks, by theme.

orphans   objects nothing uses
jobs      finished batch work kept around
"""

from assay.server.checks.cost import jobs, orphans
from assay.server.checks.kit import Check

CHECKS: tuple[Check, ...] = (*orphans.CHECKS, *jobs.CHECKS)
