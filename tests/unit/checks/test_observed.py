"""The kit's readings of what a live inventory observed: its time and its unreadable kinds."""

from __future__ import annotations

import pytest

from assay.server.checks.kit.observed import (
    age_text,
    observed_at,
    parse_time,
    unlisted_kinds,
    unreadable_kinds,
)
from assay.server.core.types import Source
from assay.server.inventory import Diagnostic, Inventory
from tests.unit.checks.cluster_state import (
    NOW,
    node,
)


def test_observed_at_is_the_newest_timestamp_and_never_the_wall_clock() -> None:
    late_event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "shop"},
        "type": "Normal",
        "lastTimestamp": "2025-06-01T12:03:00Z",
    }
    inventory = Inventory.from_objects([node("worker-a1"), late_event], source=Source.LIVE)
    assert observed_at(inventory) == parse_time("2025-06-01T12:03:00Z")
    assert observed_at(Inventory.from_objects([node("worker-a1")])) == NOW
    assert observed_at(Inventory.from_objects([])) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-01T12:00:00Z", NOW),
        ("2025-06-01T14:00:00+02:00", NOW),
        ("2025-06-01T12:00:00.123456Z", NOW.replace(microsecond=123456)),
        ("yesterday", None),
        ("", None),
        (1717243200, None),
    ],
)
def test_parse_time_reads_rfc3339_and_refuses_the_rest(value: object, expected: object) -> None:
    assert parse_time(value) == expected


def test_age_text() -> None:
    assert [age_text(s) for s in (-5, 59, 61, 3600 * 5 + 60 * 7, 86400 * 2 + 3600 * 4)] == [
        "0s",
        "59s",
        "1m",
        "5h07m",
        "2d04h",
    ]


def test_unreadable_kinds_come_from_list_diagnostics_and_missing_groups() -> None:
    inventory = Inventory.from_objects(
        [],
        source=Source.LIVE,
        missing_groups=["keda.sh"],
        diagnostics=[Diagnostic("/api/v1/secrets", "cannot list Secret: HTTP 403: forbidden")],
    )
    found = unreadable_kinds(inventory)
    assert {"Secret", "ScaledObject"} <= found and "ConfigMap" not in found
    assert unreadable_kinds(Inventory.from_objects([], source=Source.MANIFESTS)) == frozenset()
    assert unlisted_kinds(inventory) == {"Secret"}
