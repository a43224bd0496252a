"""Operational-excellence pillar (OPS-*): the checks, by theme.

metadata        labels, ownership and where objects live
versions        deprecated APIs and fields, supported Kubernetes releases
ports           port naming and targeting
observability   metrics pipeline, monitoring coverage, Warning events
delivery        declarative delivery, rollback capability
governance      admission policy and audit logging
"""

from assay.server.checks.kit import Check
from assay.server.checks.operations import (
    delivery,
    governance,
    metadata,
    observability,
    ports,
    versions,
)

CHECKS: tuple[Check, ...] = (
    *metadata.CHECKS,
    *versions.CHECKS,
    *ports.CHECKS,
    *observability.CHECKS,
    *delivery.CHECKS,
    *governance.CHECKS,
)
