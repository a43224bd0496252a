"""Evaluating one check: the rules every check shares, applied once, here.

Called by the runner (in the check's worker thread) and by the fixture tests:

* a check whose scope needs live data (``L``, ``M``) returns one ``skipped`` result on a
  manifest inventory, and one whose API groups are absent live (``metrics.k8s.io`` for
  ``M``) returns one ``skipped`` result naming them;
* a check that found nothing it applies to returns one ``skipped`` result, which says what
  the check applies to and which kinds it reads;
* results about exempt objects become ``skipped`` (see :mod:`.exemptions`).
"""

from __future__ import annotations

from assay.server.checks.kit.definition import (
    EVERYTHING,
    LIVE_CODES,
    Check,
    CheckDefinition,
    Finding,
)
from assay.server.checks.kit.exemptions import Exemptions
from assay.server.core.types import Source
from assay.server.inventory.model import Inventory

LIVE_ONLY_MESSAGE = "needs a live cluster (scope {codes}): manifest files carry no {what}"


def evaluate(
    check: Check,
    inventory: Inventory,
    *,
    params: object | None = None,
    exemptions: Exemptions | None = None,
) -> list[Finding]:
    """Run ``check`` over ``inventory`` with the shared rules applied.

    ``params`` defaults to the check's default parameters and ``exemptions`` to the
    annotations in ``inventory``. Exceptions from the check propagate: the runner turns them
    into an ``error`` result.
    """
    skip = precondition_skip(check.definition, inventory)
    if skip is not None:
        return [skip]
    findings = check.run(inventory, params)
    if not findings:
        return [nothing_found(check.definition)]
    if exemptions is None:
        exemptions = Exemptions(inventory)
    return exemptions.apply(check.id, findings)


def precondition_skip(definition: CheckDefinition, inventory: Inventory) -> Finding | None:
    """The single ``skipped`` result for a check that cannot run on this inventory, if any."""
    scope = definition.parsed_scope
    if scope.live_only and inventory.source is Source.MANIFESTS:
        codes = "+".join(sorted(scope.required & LIVE_CODES))
        what = "metrics" if codes == "M" else "live status"
        return Finding.skipped(None, LIVE_ONLY_MESSAGE.format(codes=codes, what=what))
    if inventory.source is Source.LIVE:
        missing = sorted(g for g in definition.required_groups if not inventory.has_api(g))
        if missing:
            return Finding.skipped(None, f"the cluster does not serve {', '.join(missing)}")
    return None


def nothing_found(definition: CheckDefinition) -> Finding:
    """The single ``skipped`` result of a check that had nothing to look at."""
    message = "nothing to assess: no object in the inventory is in this check's scope"
    details = []
    if definition.applies_to is not EVERYTHING:
        details.append(f"it applies to {definition.applies_to.description}")
    if definition.kinds:
        details.append(f"it reads {', '.join(definition.kinds)}")
    if details:
        message += f" ({'; '.join(details)})"
    return Finding.skipped(None, message)
