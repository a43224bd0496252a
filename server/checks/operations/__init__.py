"""Operational-excellence pillar (OPS-*): the checks, by theme.

metadata   labels and where objects live
"""

from assay.server.checks.kit import Check
from assay.server.checks.operations import metadata

CHECKS: tuple[Check, ...] = (*metadata.CHECKS,)
