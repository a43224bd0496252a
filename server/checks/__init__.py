"""The built-in check catalogue, one package per pillar, on the check kit (``checks.kit``).

The composition root calls :func:`builtin_registry`; nothing here registers itself at
import time, so tests and tools can build registries with any subset of checks.
"""

from __future__ import annotations

from assay.server.checks import (
    cost,
    operations,
    performance,
    reliability,
    security,
    sustainability,
)
from assay.server.checks.kit import Check
from assay.server.checks.kit.registry import Registry

BUILTIN_CHECKS: tuple[Check, ...] = (
    *security.CHECKS,
    *reliability.CHECKS,
    *performance.CHECKS,
    *cost.CHECKS,
    *operations.CHECKS,
    *sustainability.CHECKS,
)


def builtin_registry() -> Registry:
    """A new registry holding every built-in check."""
    return Registry(BUILTIN_CHECKS)


__all__ = ["BUILTIN_CHECKS", "builtin_registry"]
