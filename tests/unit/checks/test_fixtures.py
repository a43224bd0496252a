"""Every built-in check against its fixture folder (tests/fixtures/checks/<ID>/).

A ``failure*.yaml`` file marks each object the check must fail with the annotation
``assay.test/expect: failing`` (optionally ``assay.test/expect-containers: a,b`` naming
exactly the failing containers); the test asserts that exactly those objects fail and no
other. A failure file that marks no object expects a failing result about the cluster as a
whole (and nothing else failing). A ``success*.yaml`` file must give no failing result.
The ``assay.test/*`` annotations are removed before the check sees the objects.

A meta-test requires every registered check to have both kinds of file, valid metadata
and a success file that passes something. Checks that need live data read their fixtures
as a live-source inventory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from assay.server.checks import BUILTIN_CHECKS
from assay.server.checks.kit import Check, Finding
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.registry import validate
from assay.server.core.types import Source, Status
from assay.server.inventory import Inventory, read_manifests
from assay.server.inventory.raw import kind_of, name_of, namespace_of
from tests.unit.checks.runs import FIXTURES, REGISTRY, strip_test_marks

EXPECT = "assay.test/expect"
EXPECT_CONTAINERS = "assay.test/expect-containers"

ObjectKey = tuple[str, str, str]


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*/*.yaml"))


def load_fixture(path: Path) -> tuple[Check, Inventory, dict[ObjectKey, Mapping[str, str]]]:
    check = REGISTRY.get(path.parent.name)
    objects, diagnostics = read_manifests(path)
    assert not diagnostics, [str(d) for d in diagnostics]
    source = Source.LIVE if check.definition.parsed_scope.live_only else Source.MANIFESTS
    marked = [(obj, marks) for obj in objects if (marks := strip_test_marks(obj))]
    inventory = Inventory.from_objects(objects, source=source)
    # keyed once the inventory has given namespaced objects without one "default"
    expected: dict[ObjectKey, Mapping[str, str]] = {
        (kind_of(o), namespace_of(o), name_of(o)): marks for o, marks in marked
    }
    return check, inventory, expected


def run_fixture(path: Path) -> list[Finding]:
    check, inventory, _ = load_fixture(path)
    return evaluate(check, inventory)


def failing_by_object(findings: list[Finding]) -> dict[ObjectKey | None, set[str]]:
    failing: dict[ObjectKey | None, set[str]] = {}
    for f in findings:
        if f.status is Status.FAILING:
            key = None if f.object is None else (f.object.kind, f.object.namespace, f.object.name)
            failing.setdefault(key, set()).add(f.container)
    return failing


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_outcome(path: Path) -> None:
    check, inventory, marks = load_fixture(path)
    findings = evaluate(check, inventory)
    failing = failing_by_object(findings)
    if path.name.startswith("success"):
        assert not marks, "success fixtures mark no object as expected to fail"
        assert not failing, [(f.object, f.container, f.message) for f in findings]
        return
    if not path.name.startswith("failure"):
        pytest.fail(f"{path.name}: fixture names start with success or failure")
    expected: set[ObjectKey | None] = {
        key for key, values in marks.items() if values.get(EXPECT) == "failing"
    }
    assert expected or None in failing, "a failure fixture marks its failing objects"
    if not expected:
        expected = {None}
    assert set(failing) == expected, {
        "unexpected": sorted(map(str, set(failing) - expected)),
        "missing": sorted(map(str, expected - set(failing))),
    }
    for key, values in marks.items():
        if EXPECT_CONTAINERS in values:
            wanted = {c.strip() for c in values[EXPECT_CONTAINERS].split(",") if c.strip()}
            assert failing.get(key) == wanted, (key, failing.get(key))


@pytest.mark.parametrize("check", BUILTIN_CHECKS, ids=lambda c: c.id)
def test_every_check_has_both_fixture_kinds_and_valid_metadata(check: Check) -> None:
    validate(check.definition)
    folder = FIXTURES / check.id
    assert list(folder.glob("success*.yaml")), f"{check.id}: no success fixture"
    assert list(folder.glob("failure*.yaml")), f"{check.id}: no failure fixture"


@pytest.mark.parametrize("check", BUILTIN_CHECKS, ids=lambda c: c.id)
def test_some_success_fixture_passes_something(check: Check) -> None:
    """A success fixture that only yields skipped results would prove nothing."""
    outcomes = [
        [f.status for f in run_fixture(p)] for p in sorted((FIXTURES / check.id).glob("success*"))
    ]
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
