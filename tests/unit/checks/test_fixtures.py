"""Every built-in check against its fixture folder (tests/fixtures/checks/<ID>/).

``failure*.yaml`` must give at least one failing result and ``success*.yaml`` none; a
meta-test requires every registered check to have both kinds and valid metadata. Checks
that need live data (scope L) read their fixtures as a live-source inventory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.server.checks import BUILTIN_CHECKS, builtin_registry
from assay.server.checks.kit.definition import Check, evaluate
from assay.server.checks.kit.registry import validate
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory, read_manifests

FIXTURES = Path(__file__).parents[2] / "fixtures" / "checks"
REGISTRY = builtin_registry()


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*/*.yaml"))


def run_fixture(path: Path) -> tuple[Check, list[Status]]:
    check = REGISTRY.get(path.parent.name)
    objects, diagnostics = read_manifests(path)
    assert not diagnostics, [str(d) for d in diagnostics]
    source = Source.LIVE if check.definition.parsed_scope.live_only else Source.MANIFESTS
    inventory = Inventory.from_objects(objects, source=source)
    return check, [f.status for f in evaluate(check, inventory)]


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_outcome(path: Path) -> None:
    _, statuses = run_fixture(path)
    if path.name.startswith("failure"):
        assert Status.FAILING in statuses
    elif path.name.startswith("success"):
        assert Status.FAILING not in statuses, statuses
    else:
        pytest.fail(f"{path.name}: fixture names start with success or failure")


@pytest.mark.parametrize("check", BUILTIN_CHECKS, ids=lambda c: c.id)
def test_every_check_has_both_fixture_kinds_and_valid_metadata(check: Check) -> None:
    validate(check.definition)
    folder = FIXTURES / check.id
    assert list(folder.glob("success*.yaml")), f"{check.id}: no success fixture"
    assert list(folder.glob("failure*.yaml")), f"{check.id}: no failure fixture"


@pytest.mark.parametrize("check", BUILTIN_CHECKS, ids=lambda c: c.id)
def test_some_success_fixture_passes_something(check: Check) -> None:
    """A success fixture that only yields skipped results would prove nothing."""
    outcomes = [run_fixture(p)[1] for p in sorted((FIXTURES / check.id).glob("success*.yaml"))]
    assert any(Status.PASSING in statuses for statuses in outcomes)


def test_fixture_folders_name_registered_checks() -> None:
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} <= set(REGISTRY.ids())


def test_builtin_catalogue_is_well_formed() -> None:
    ids = [c.id for c in BUILTIN_CHECKS]
    assert len(ids) == len(set(ids))
    assert len(REGISTRY) == len(BUILTIN_CHECKS)
    for check in BUILTIN_CHECKS:
        assert check.definition.description.strip()
        assert check.definition.kinds
