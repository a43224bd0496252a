"""examples/ stays a useful demo: it loads cleanly and every check that can run on
manifests both passes and fails somewhere in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.server.checks import BUILTIN_CHECKS
from assay.server.checks.kit.definition import Check
from assay.server.checks.kit.evaluate import evaluate
from assay.server.core.types import Status
from assay.server.inventory import Inventory, load_manifests

EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    loaded = load_manifests(EXAMPLES)
    assert loaded.diagnostics == ()
    return loaded


@pytest.mark.parametrize("check", BUILTIN_CHECKS, ids=lambda c: c.id)
def test_examples_exercise_both_outcomes(check: Check, inventory: Inventory) -> None:
    findings = evaluate(check, inventory)
    statuses = {f.status for f in findings}
    if check.definition.parsed_scope.live_only:
        assert statuses == {Status.SKIPPED}
    elif all(f.object is None for f in findings):
        # one verdict about the cluster as a whole (COST-006, OPS-010): it can only be one
        assert statuses & {Status.PASSING, Status.FAILING}
    else:
        assert {Status.PASSING, Status.FAILING} <= statuses
