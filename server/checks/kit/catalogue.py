"""The checks a server runs: its registry as configured by the policy file.

Built by the composition root from the registry and the loaded policy, and read by the
runner (which checks a request selects, with which parameters and severity, and which
exemptions apply) and by the API (ListChecks shows each check's effective severity and
whether it is enabled).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from assay.server.checks.kit.definition import Check, CheckDefinition
from assay.server.checks.kit.exemptions import Exemptions
from assay.server.checks.kit.policy import EMPTY_POLICY, Policy
from assay.server.checks.kit.registry import Registry
from assay.server.core.errors import FailedPrecondition
from assay.server.core.types import Pillar, Severity
from assay.server.inventory.model import Inventory


@dataclass(frozen=True)
class Catalogue:
    registry: Registry
    policy: Policy = EMPTY_POLICY
    honour_annotations: bool = True
    """Whether exemption annotations on objects count (a server setting)."""

    def select(self, *, pillars: Iterable[Pillar] = (), check_id: str = "") -> tuple[Check, ...]:
        """The enabled checks a run selects, sorted by id: one by id, by pillars, or all.

        Raises NotFound for an unknown id and FailedPrecondition for a disabled one.
        """
        if check_id:
            chosen = self.registry.get(check_id)
            if not self.enabled(chosen):
                raise FailedPrecondition(
                    f"check {check_id} is disabled by the policy file {self.policy.source}"
                )
            return (chosen,)
        wanted = frozenset(pillars)
        checks = self.registry.by_pillars(wanted) if wanted else self.registry.all()
        return tuple(c for c in checks if self.enabled(c))

    def enabled(self, check: Check) -> bool:
        return self.policy.enabled(check.definition)

    def severity(self, check: Check) -> Severity:
        return self.policy.severity(check.definition)

    def severity_override(self, check: Check) -> Severity | None:
        """The severity the policy sets for every result of ``check``, if it sets one."""
        return self.policy.override(check.definition)

    def params(self, check: Check) -> Any:
        return self.policy.params(check.definition)

    def effective(self, check: Check) -> CheckDefinition:
        """The definition with the severity the policy gives it."""
        return dataclasses.replace(check.definition, severity=self.severity(check))

    def exemptions(self, inventory: Inventory, *, today: date) -> Exemptions:
        """The exemptions of one run over ``inventory`` on ``today``."""
        return Exemptions(
            inventory,
            rules=self.policy.exemptions,
            honour_annotations=self.honour_annotations,
            today=today,
            on_expired=self.policy.report_expired,
        )
