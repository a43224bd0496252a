"""Reading PodMetrics and NodeMetrics (metrics.k8s.io/v1beta1) as numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from assay.server.checks.kit.metrics import (
    Sample,
    has_metrics,
    node_usage,
    parse_duration,
    parse_timestamp,
    pod_usage,
    read_pod_metrics,
    workload_samples,
)
from assay.server.core.types import ObjectRef, Source
from assay.server.inventory import Inventory
from tests.unit.checks.objects import pod_metrics


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("20.054s", 20.054),
        ("1m0s", 60),
        ("1m30s", 90),
        ("1h2m3.5s", 3723.5),
        ("500ms", 0.5),
        ("1.5m", 90),
        ("250\u00b5s", 0.00025),
        ("0", 0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    parsed = parse_duration(text)
    assert parsed is not None and parsed.total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize(
    "bad",
    ["", "30", "s", "30 s", "-30s", "1d", "30sec", "1e3s", "9" * 70 + "s", "9999999h", 30, None],
)
def test_bad_durations_are_none(bad: object) -> None:
    assert parse_duration(bad) is None


def test_timestamps() -> None:
    assert parse_timestamp("2025-03-04T10:15:30Z") == datetime(2025, 3, 4, 10, 15, 30, tzinfo=UTC)
    assert parse_timestamp("2025-03-04T11:15:30+01:00") == datetime(
        2025, 3, 4, 10, 15, 30, tzinfo=UTC
    )
    naive = datetime(2025, 3, 4, 10, 15, 30)  # what a YAML reader may hand over
    assert parse_timestamp(naive) == naive.replace(tzinfo=UTC)
    for bad in ("2025-03-04T10:15:30", "yesterday", "", "2025-13-04T10:15:30Z", 1741083330):
        assert parse_timestamp(bad) is None


def test_the_caveat_names_time_and_window() -> None:
    sample = Sample(datetime(2025, 3, 4, 10, 15, 30, tzinfo=UTC), timedelta(seconds=20.05))
    assert sample.caveat == (
        "one metrics-server sample taken 2025-03-04T10:15:30Z over a 20.05s window: "
        "a point in time, not a trend"
    )
    assert "point in time" in Sample(None, None).caveat


def test_malformed_usage_becomes_problems() -> None:
    usage = read_pod_metrics(
        pod_metrics(
            "p",
            good={"cpu": "12345678n", "memory": "2345Ki"},
            bad={"cpu": "lots", "memory": "-1Mi"},
        )
        | {"window": "forever"}
    )
    assert usage.containers["good"].cpu == Decimal("0.012345678")
    assert usage.containers["good"].memory == 2345 * 1024
    assert usage.containers["bad"].cpu is None and usage.containers["bad"].memory is None
    assert len(usage.problems) == 3
    assert usage.sample.window is None


def test_lookups_and_workload_grouping() -> None:
    objects = [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"template": {"spec": {"containers": [{"name": "pg"}]}}},
        },
        *(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"db-{i}",
                    "namespace": "shop",
                    "ownerReferences": [{"kind": "StatefulSet", "name": "db", "controller": True}],
                },
                "spec": {
                    "initContainers": [
                        {"name": "init"},
                        {"name": "proxy", "restartPolicy": "Always"},
                    ],
                    "containers": [{"name": "pg", "resources": {"limits": {"memory": "1Gi"}}}],
                },
                "status": {"phase": phase},
            }
            for i, phase in enumerate(("Running", "Running", "Pending"))
        ),
        pod_metrics("db-0", pg={"cpu": "100m", "memory": "512Mi"}, proxy={"cpu": "5m"}),
        {
            "apiVersion": "metrics.k8s.io/v1beta1",
            "kind": "NodeMetrics",
            "metadata": {"name": "node-a"},
            "timestamp": "2025-03-04T10:15:30Z",
            "window": "20s",
            "usage": {"cpu": "1500m", "memory": "3Gi"},
        },
    ]
    inventory = Inventory.from_objects(objects, source=Source.LIVE)
    assert has_metrics(inventory)
    usage = pod_usage(inventory, "shop", "db-0")
    assert usage is not None and usage.containers["pg"].memory == 512 * 2**20
    assert pod_usage(inventory, "shop", "db-1") is None
    measured = node_usage(inventory, "node-a")
    assert measured is not None and measured.usage.cpu == Decimal("1.5")
    [workload] = workload_samples(inventory)
    assert workload.ref == ObjectRef("StatefulSet", "db", "shop")
    assert (workload.running_pods, workload.sampled_pods) == (2, 1)
    assert sorted(workload.containers) == ["pg", "proxy"]  # the plain init container is done
    [pg] = workload.containers["pg"]
    assert pg.pod == "db-0" and pg.resources.limits["memory"] == 2**30
    assert workload_samples(inventory) is workload_samples(inventory)


def test_an_inventory_without_samples() -> None:
    assert not has_metrics(Inventory.from_objects([], source=Source.LIVE))
