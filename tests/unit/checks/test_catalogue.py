"""The catalogue is complete: every row of the target catalogue has its check.

``tests/fixtures/catalogue/<pillar>.tsv`` holds the target rows of each pillar (id, name,
scope code, default severity), tab-separated. Every row must be a registered built-in check
with exactly that name, pillar, scope and severity, a remediation text and fixtures of both
kinds; every built-in check must be a row.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from assay.server.checks import builtin_registry
from assay.server.core.types import Pillar

FIXTURES = Path(__file__).parents[2] / "fixtures"
REGISTRY = builtin_registry()


def rows() -> list[tuple[Pillar, str, str, str, str]]:
    found = []
    for pillar in Pillar:
        path = FIXTURES / "catalogue" / f"{pillar}.tsv"
        with path.open(newline="") as handle:
            for check_id, name, scope, severity in csv.reader(handle, delimiter="\t"):
                found.append((pillar, check_id, name, scope, severity))
    return found


ROWS = rows()


@pytest.mark.parametrize(
    ("pillar", "check_id", "name", "scope", "severity"), ROWS, ids=lambda v: str(v)
)
def test_every_catalogue_row_has_its_check(
    pillar: Pillar, check_id: str, name: str, scope: str, severity: str
) -> None:
    assert check_id in REGISTRY, f"{check_id} ({name}) is in the catalogue but not registered"
    definition = REGISTRY.get(check_id).definition
    assert (definition.pillar, definition.name, definition.scope, str(definition.severity)) == (
        pillar,
        name,
        scope,
        severity,
    )
    assert definition.remediation.strip()
    folder = FIXTURES / "checks" / check_id
    assert list(folder.glob("success*.yaml")) and list(folder.glob("failure*.yaml"))


def test_every_builtin_check_is_a_catalogue_row() -> None:
    assert set(REGISTRY.ids()) == {row[1] for row in ROWS}


def test_catalogue_rows_are_unique_and_complete() -> None:
    ids = [row[1] for row in ROWS]
    assert len(ids) == len(set(ids))
    per_pillar = {p: sum(row[0] is p for row in ROWS) for p in Pillar}
    assert per_pillar == {
        Pillar.SECURITY: 30,
        Pillar.RELIABILITY: 29,
        Pillar.PERFORMANCE_EFFICIENCY: 13,
        Pillar.COST_OPTIMIZATION: 10,
        Pillar.OPERATIONAL_EXCELLENCE: 12,
        Pillar.SUSTAINABILITY: 6,
    }  # the whole target catalogue: 100 checks
