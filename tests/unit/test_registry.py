"""Registry validation, lookup, and third-party checks from the ``assay.checks`` group."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from assay.server.checks.kit.definition import Check, CheckDefinition, Context, Finding, check
from assay.server.checks.kit.registry import (
    RegistrationError,
    Registry,
    load_entry_points,
    required_groups,
    required_kinds,
)
from assay.server.core.errors import NotFound
from assay.server.core.types import Pillar, Severity

DEFINITION = CheckDefinition(
    id="SEC-900",
    pillar=Pillar.SECURITY,
    name="Example",
    description="An example check.",
    severity=Severity.LOW,
    scope="W",
    remediation="Do the right thing.",
    kinds=("Pod",),
)


def nothing(ctx: Context[Any]) -> Iterator[Finding]:
    return iter(())


def make(**changes: object) -> Check:
    return check(replace(DEFINITION, **changes))(nothing)  # type: ignore[arg-type]


def test_check_binds_without_registering_anything() -> None:
    bound = check(DEFINITION)(nothing)
    assert bound.definition is DEFINITION and bound.fn is nothing and bound.id == "SEC-900"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "SEC-1"}, "id must match"),
        ({"id": "sec-001"}, "id must match"),
        ({"id": "NET-001"}, "id must match"),
        ({"id": "REL-001"}, "does not match pillar"),
        ({"pillar": Pillar.COST_OPTIMIZATION}, "does not match pillar"),
        ({"name": "  "}, "name is empty"),
        ({"remediation": ""}, "remediation is empty"),
        ({"scope": "Q"}, "scope"),
        ({"scope": "W+"}, "scope"),
        ({"severity": "urgent"}, "not a Severity"),
    ],
)
def test_register_rejects_invalid_metadata(changes: dict[str, object], message: str) -> None:
    with pytest.raises(RegistrationError, match=message):
        Registry().register(make(**changes))


def test_registration_error_is_a_value_error() -> None:
    assert issubclass(RegistrationError, ValueError)


def test_register_rejects_duplicate_id() -> None:
    registry = Registry([make()])
    with pytest.raises(RegistrationError, match="already registered"):
        registry.register(make(name="Another"))


def test_register_rejects_non_checks() -> None:
    with pytest.raises(RegistrationError, match="not a Check"):
        Registry().register(DEFINITION)  # type: ignore[arg-type]


@pytest.mark.parametrize("scope", ["W", "X+L", "C+L", "W/X", "X (+L)", "N (+L)", "M"])
def test_catalogue_scope_codes_are_accepted(scope: str) -> None:
    Registry().register(make(scope=scope))


def test_lookup_by_id_and_pillars_sorted() -> None:
    registry = Registry(
        [
            make(id="SEC-010"),
            make(id="SEC-002"),
            make(id="REL-001", pillar=Pillar.RELIABILITY),
            make(id="SUS-001", pillar=Pillar.SUSTAINABILITY),
        ]
    )
    assert registry.ids() == ["REL-001", "SEC-002", "SEC-010", "SUS-001"]
    assert [c.id for c in registry.all()] == registry.ids()
    assert registry.get("SEC-002").id == "SEC-002"
    assert [c.id for c in registry.by_pillars([Pillar.SECURITY])] == ["SEC-002", "SEC-010"]
    assert [c.id for c in registry.by_pillars({Pillar.SUSTAINABILITY, Pillar.RELIABILITY})] == [
        "REL-001",
        "SUS-001",
    ]
    assert registry.by_pillars([Pillar.COST_OPTIMIZATION]) == []
    assert "SEC-010" in registry and len(registry) == 4


def test_get_unknown_id_raises_not_found() -> None:
    with pytest.raises(NotFound) as caught:
        Registry().get("SEC-404")
    assert (caught.value.kind, caught.value.ident) == ("check", "SEC-404")


def test_required_kinds_and_groups() -> None:
    checks = [
        make(id="SEC-001", kinds=("Pod", "Deployment")),
        make(id="SEC-002", kinds=("Service",), needs=frozenset({"autoscaling/v2"})),
        make(id="SEC-003", scope="M"),
    ]
    assert required_kinds(checks) == {"Pod", "Deployment", "Service"}
    assert required_groups(checks) == {"autoscaling/v2", "metrics.k8s.io"}


# -- plug-ins ------------------------------------------------------------------------------

PLUGIN_MODULE = """
from assay.server.checks.kit.definition import CheckDefinition, Finding, check
from assay.server.core.types import Pillar, Severity


def _definition(number, pillar, prefix):
    return CheckDefinition(
        id=f"{prefix}-{number}", pillar=pillar, name="Plug-in check", description="From a plug-in.",
        severity=Severity.INFO, scope="C", remediation="Nothing to do.",
    )


def _cluster(inventory):
    yield Finding.passing(None, "fine")


SINGLE = check(_definition(901, Pillar.OPERATIONAL_EXCELLENCE, "OPS"))(_cluster)
MANY = [
    check(_definition(902, Pillar.OPERATIONAL_EXCELLENCE, "OPS"))(_cluster),
    check(_definition(903, Pillar.COST_OPTIMIZATION, "COST"))(_cluster),
]
NOT_A_CHECK = 42
BAD_ID = check(_definition(904, Pillar.SECURITY, "OPS"))(_cluster)
"""

ENTRY_POINTS = """
[assay.checks]
single = acme_checks:SINGLE
many = acme_checks:MANY
wrong-type = acme_checks:NOT_A_CHECK
bad-id = acme_checks:BAD_ID
missing-module = acme_missing_module:CHECKS
"""


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution ``acme-checks`` on sys.path, declaring entry points."""
    (tmp_path / "acme_checks.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    dist_info = tmp_path / "acme_checks-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "acme_checks", raising=False)
    return tmp_path


@pytest.mark.usefixtures("plugin_dist")
def test_load_entry_points_finds_single_and_iterable_plugins() -> None:
    found, errors = load_entry_points()
    assert sorted(c.id for _, c in found) == ["COST-903", "OPS-901", "OPS-902", "OPS-904"]
    assert {e.entry_point.split(" ")[0] for e in errors} == {"missing-module", "wrong-type"}


@pytest.mark.usefixtures("plugin_dist")
def test_registry_loads_plugins_and_reports_broken_ones() -> None:
    registry = Registry([make()])
    errors = registry.load_entry_points()
    assert registry.ids() == ["COST-903", "OPS-901", "OPS-902", "SEC-900"]
    messages = {e.entry_point.split(" ")[0]: e.message for e in errors}
    assert set(messages) == {"bad-id", "missing-module", "wrong-type"}
    assert "does not match pillar" in messages["bad-id"]
    assert "ModuleNotFoundError" in messages["missing-module"]
    assert "int" in messages["wrong-type"]
    assert all(str(e).startswith("check plug-in ") for e in errors)


def test_no_plugins_installed_in_an_unused_group() -> None:
    assert load_entry_points("assay.checks.nobody-uses-this") == ([], [])
