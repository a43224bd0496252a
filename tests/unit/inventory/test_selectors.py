"""Label-selector matching and the selector indexes."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.inventory.selectors import LabelIndex, Selector, SelectorIndex

LABELS = {"app": "web", "tier": "frontend", "track": "stable"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({}, True),
        ({"matchLabels": {}}, True),
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "web", "tier": "frontend"}}, True),
        ({"matchLabels": {"app": "api"}}, False),
        ({"matchLabels": {"missing": "x"}}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "x"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]}, False),
        ({"matchExpressions": [{"key": "nope", "operator": "In", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["api"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, False),
        ({"matchExpressions": [{"key": "nope", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "nope", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "nope", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
        ({"matchExpressions": [{"key": "app", "operator": "Bogus", "values": ["web"]}]}, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "track", "operator": "In", "values": ["stable", "canary"]},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ],
            },
            True,
        ),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["stable"]}],
            },
            False,
        ),
        (None, False),
    ],
)
def test_label_selector(selector: Any, matches: bool) -> None:
    assert Selector.from_label_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({"app": "web"}, True),
        ({"app": "web", "tier": "frontend"}, True),
        ({"app": "web", "tier": "backend"}, False),
        ({}, False),  # a Service without a selector selects no pods
        (None, False),
    ],
)
def test_map_selector(selector: Any, matches: bool) -> None:
    assert Selector.from_map(selector).matches(LABELS) is matches


def test_non_string_label_values_compare_as_strings() -> None:
    assert Selector.from_map({"version": 2}).matches({"version": "2"})


def entries() -> list[tuple[str, dict[str, str], str]]:
    return [
        ("shop", {"app": "web", "tier": "frontend"}, "web"),
        ("shop", {"app": "api", "tier": "backend"}, "api"),
        ("shop", {"app": "worker"}, "worker"),
        ("payments", {"app": "web"}, "payments-web"),
    ]


@pytest.mark.parametrize(
    ("namespace", "selector", "expected"),
    [
        ("shop", {"matchLabels": {"app": "web"}}, ["web"]),
        ("payments", {"matchLabels": {"app": "web"}}, ["payments-web"]),
        ("shop", {}, ["web", "api", "worker"]),
        ("shop", {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, ["web", "api"]),
        (
            "shop",
            {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
            ["worker"],
        ),
        (
            "shop",
            {"matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "worker"]}]},
            ["api", "worker"],
        ),
        ("shop", None, []),
        ("other", {}, []),
    ],
)
def test_label_index_select(namespace: str, selector: Any, expected: list[str]) -> None:
    index = LabelIndex(entries())
    assert index.select(namespace, Selector.from_label_selector(selector)) == expected


def test_selector_index_finds_every_selector_matching_labels_in_order() -> None:
    index = SelectorIndex(
        [
            ("shop", Selector.from_label_selector({"matchLabels": {"app": "web"}}), "by-app"),
            ("shop", Selector.from_label_selector({}), "everything"),
            (
                "shop",
                Selector.from_label_selector(
                    {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}
                ),
                "not-db",
            ),
            ("shop", Selector.from_map({"tier": "frontend", "app": "web"}), "service"),
            ("shop", Selector.from_label_selector({"matchLabels": {"app": "api"}}), "other-app"),
            ("shop", Selector.from_label_selector(None), "absent"),
            ("payments", Selector.from_label_selector({}), "other-namespace"),
        ]
    )
    found = index.selecting("shop", {"app": "web", "tier": "frontend"})
    assert found == ["by-app", "everything", "not-db", "service"]
    assert index.selecting("shop", {"tier": "db"}) == ["everything"]
    assert index.selecting("empty", {"app": "web"}) == []
