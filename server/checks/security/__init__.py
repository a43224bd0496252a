"""Security pillar (SEC-*): the checks, by theme.

pod     privilege and user identity in the security context
"""

from assay.server.checks.kit import Check
from assay.server.checks.security import pod

CHECKS: tuple[Check, ...] = (*pod.CHECKS,)
