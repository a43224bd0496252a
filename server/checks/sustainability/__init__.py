"""Sustainability pillar (SUS-*): the checks, by theme.

capacity   provisioned capacity and what pods reserve of it
scaling    scaling with demand
"""

from assay.server.checks.kit import Check
from assay.server.checks.sustainability import capacity, scaling

CHECKS: tuple[Check, ...] = (*capacity.CHECKS, *scaling.CHECKS)
