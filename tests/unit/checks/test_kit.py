"""The check kit: parameter declarations and conversion, rule helpers, applicability, docs."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from assay.server.checks import builtin_registry
from assay.server.checks.kit import (
    REGULAR_CONTAINERS,
    Applicability,
    CheckDefinition,
    Context,
    NoParams,
    Verdict,
    fail,
    ok,
    param,
    per_container,
    per_object,
    per_workload,
)
from assay.server.checks.kit.docs import render
from assay.server.checks.kit.evaluate import evaluate
from assay.server.checks.kit.params import ParamError, build_params, declaration_problems
from assay.server.checks.kit.registry import RegistrationError, Registry
from assay.server.core.types import Pillar, Severity, Status
from assay.server.inventory import Container, Inventory, Workload
from assay.server.inventory.raw import KubeObject, name_of
from tests.unit.checks.objects import pod

DOCS = Path(__file__).parents[3] / "docs" / "checks.md"


class Mode(enum.StrEnum):
    STRICT = "strict"
    LAX = "lax"


@dataclass(frozen=True)
class Everything:
    flag: bool = param(False, "a switch")
    count: int = param(2, "a count")
    ratio: float = param(0.5, "a ratio")
    share: Decimal = param(Decimal("0.15"), "a share")
    label: str = param("x", "a label")
    day: datetime.date | None = param(None, "a day")
    mode: Mode = param(Mode.STRICT, "a mode")
    names: frozenset[str] = param(frozenset({"a"}), "some names")
    ordered: tuple[int, ...] = param((1, 2), "some numbers")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"flag": True}, {"flag": True}),
        ({"count": 7}, {"count": 7}),
        ({"ratio": 1}, {"ratio": 1.0}),
        ({"share": "0.25"}, {"share": Decimal("0.25")}),
        ({"share": 0.5}, {"share": Decimal("0.5")}),
        ({"label": "y"}, {"label": "y"}),
        ({"day": datetime.date(2027, 1, 2)}, {"day": datetime.date(2027, 1, 2)}),
        ({"day": None}, {"day": None}),
        ({"mode": "lax"}, {"mode": Mode.LAX}),
        ({"names": ["b", "c"]}, {"names": frozenset({"b", "c"})}),
        ({"ordered": [3]}, {"ordered": (3,)}),
    ],
)
def test_parameter_values_convert(values: dict[str, Any], expected: dict[str, Any]) -> None:
    built = build_params(Everything, values)
    assert {k: getattr(built, k) for k in expected} == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"flag": "yes"}, "flag: expected a boolean, got string 'yes'"),
        ({"count": True}, "count: expected an integer, got boolean true"),
        ({"count": 1.5}, "count: expected an integer, got float 1.5"),
        ({"share": "lots"}, "share: expected a decimal number"),
        ({"label": 3}, "label: expected a string, got int 3"),
        ({"mode": "loose"}, "mode: expected one of strict, lax, got 'loose'"),
        ({"names": "a"}, "names: expected a list of strings, got string 'a'"),
        ({"names": ["a", 2]}, "names[1]: expected a string, got int 2"),
        ({"unknown": 1}, "unknown: unknown parameter (known: count, day, flag"),
    ],
)
def test_parameter_values_of_the_wrong_type_are_refused(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ParamError) as caught:
        build_params(Everything, values)
    assert str(caught.value).startswith(message)


def test_parameter_declarations_are_checked() -> None:
    assert declaration_problems(Everything) == []
    assert declaration_problems(NoParams) == []

    @dataclass
    class Mutable:
        x: int = param(1, "x")

    @dataclass(frozen=True)
    class Bad:
        no_default: int
        no_help: int = 3
        odd: dict[str, int] = dataclasses.field(default_factory=dict, metadata={"help": "odd"})

    assert declaration_problems(Mutable) == ["params must be a frozen dataclass"]
    assert declaration_problems(Bad) == [
        "parameter no_default has no default",
        "parameter no_default has no help text (use param(default, help))",
        "parameter no_help has no help text (use param(default, help))",
        "parameter odd has an unsupported type",
    ]
    assert declaration_problems(int) == ["params must be a dataclass type"]


def definition(**changes: Any) -> CheckDefinition:
    base = CheckDefinition(
        id="SEC-900",
        pillar=Pillar.SECURITY,
        name="Test",
        description="A test check.",
        severity=Severity.LOW,
        scope="W",
        remediation="Fix it.",
        kinds=("Deployment", "Pod"),
    )
    return dataclasses.replace(base, **changes)


def test_the_registry_refuses_bad_parameter_classes() -> None:
    @dataclass(frozen=True)
    class NoHelp:
        x: int = 1

    @per_workload(definition(params=NoHelp))
    def rule(workload: Workload, ctx: Context[NoHelp]) -> Verdict:
        return ok("fine")

    with pytest.raises(RegistrationError, match="parameter x has no help text"):
        Registry([rule])


def test_per_container_visits_selected_containers_of_applicable_workloads() -> None:
    linux_only = Applicability("Linux pods", lambda w, ctx: w.pod_spec.get("os") is None)

    @per_container(definition(applies_to=linux_only), containers=REGULAR_CONTAINERS)
    def named(workload: Workload, container: Container, ctx: Context[NoParams]) -> Verdict:
        return fail(f"{container.name} looked at")

    inventory = Inventory.from_objects(
        [
            pod("a", {"name": "app"}, initContainers=[{"name": "init"}]),
            pod("win", {"name": "app"}, os={"name": "windows"}),
        ]
    )
    found = evaluate(named, inventory)
    assert [(f.object.name if f.object else "", f.container) for f in found] == [("a", "app")]
    assert found[0].message == "app looked at" and found[0].status is Status.FAILING


def test_per_object_leaves_owned_objects_to_their_controller_unless_asked() -> None:
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o", "namespace": "n"}}
    owned = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "child",
            "namespace": "n",
            "ownerReferences": [{"kind": "ConfigMap", "name": "o", "controller": True}],
        },
    }
    inventory = Inventory.from_objects([owner, owned])

    def names(**options: Any) -> list[str]:
        @per_object(definition(kinds=("ConfigMap",)), **options)
        def rule(obj: KubeObject, ctx: Context[NoParams]) -> Verdict:
            return ok(name_of(obj))

        return [f.message for f in evaluate(rule, inventory)]

    assert names() == ["o"]
    assert names(include_owned=True) == ["child", "o"]
    assert names(every_kind=True) == ["o"]


def test_applicability_combines_with_and() -> None:
    big = Applicability("big", lambda n, ctx: n > 10)
    even = Applicability("even", lambda n, ctx: n % 2 == 0)
    both = big & even
    ctx = Context(Inventory.from_objects([]), NoParams())
    assert both.description == "big, even"
    assert [n for n in (4, 11, 12) if both.applies(n, ctx)] == [12]


def test_check_reference_matches_the_registry() -> None:
    """docs/checks.md is generated (scripts/generate); this fails when it drifts."""
    assert DOCS.read_text() == render(builtin_registry().all()), "run scripts/generate"


def test_check_reference_lists_parameters_notes_and_applicability() -> None:
    text = render(builtin_registry().all())
    assert "| `low_id_threshold` | integer | `10000` |" in text
    assert "A container with a limit but no request counts as requesting its limit" in text
    assert "| Applies to | long-running workloads" in text
