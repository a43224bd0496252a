"""Effective container resources (API defaulting, LimitRange admission), QoS and pod requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from assay.server.checks.kit.quantity import parse_quantity
from assay.server.checks.kit.resources import (
    NO_DEFAULTS,
    QoS,
    container_defaults,
    container_resources,
    limit_range_defaults,
    pod_requests,
    qos_class,
)
from assay.server.core.types import Source
from assay.server.inventory import Inventory, containers


def q(text: str) -> Decimal:
    return parse_quantity(text)


def one(resources: dict[str, Any]) -> Any:
    [container] = containers({"containers": [{"name": "c", "resources": resources}]})
    return container


def limit_range(name: str, *items: dict[str, Any], namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"limits": list(items)},
    }


def test_a_limit_alone_is_also_the_request() -> None:
    res = container_resources(one({"limits": {"cpu": "500m", "memory": "1Gi"}}))
    assert res.requests == {"cpu": q("500m"), "memory": q("1Gi")}
    assert res.defaulted == {"requests.cpu": "its limit", "requests.memory": "its limit"}


def test_invalid_and_negative_values_are_problems_not_values() -> None:
    res = container_resources(
        one({"requests": {"cpu": "1 core", "memory": "-1Gi"}, "limits": {"cpu": "2"}})
    )
    assert "requests.cpu" in res.problems and "unknown unit 'core'" in res.problems["requests.cpu"]
    assert "negative" in res.problems["requests.memory"]
    # a declared (if broken) request is not replaced by the limit
    assert res.requests == {} and res.limits == {"cpu": q("2")}
    assert res.problems_with("cpu") == [res.problems["requests.cpu"]]


def test_limit_range_defaulting_order() -> None:
    defaults = container_defaults(
        [
            limit_range(
                "a-bounds",
                {"type": "Pod", "max": {"cpu": "64"}},
                {"type": "Container", "max": {"cpu": "4"}, "min": {"memory": "64Mi"}},
            ),
            limit_range(
                "b-defaults",
                {"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "250m"}},
            ),
        ]
    )
    # a-bounds comes first (sorted by name): its max is the default limit, and the default
    # request falls back to that default (not to b-defaults' defaultRequest).
    assert defaults.limits == {"cpu": q("4")}
    assert defaults.requests == {"cpu": q("4"), "memory": q("64Mi")}
    assert defaults.sources["requests.memory"] == "a-bounds"


def test_default_request_prefers_default_request_then_default_then_min() -> None:
    defaults = container_defaults(
        [
            limit_range(
                "lr",
                {
                    "type": "Container",
                    "min": {"cpu": "10m", "memory": "32Mi"},
                    "default": {"cpu": "1", "memory": "512Mi"},
                    "defaultRequest": {"cpu": "100m"},
                },
            )
        ]
    )
    assert defaults.requests == {"cpu": q("100m"), "memory": q("512Mi")}


def test_limit_range_fills_only_what_the_container_leaves_out() -> None:
    inventory = Inventory.from_objects(
        [
            limit_range(
                "defaults",
                {
                    "type": "Container",
                    "default": {"cpu": "1", "memory": "512Mi"},
                    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                },
            )
        ]
    )
    defaults = limit_range_defaults(inventory, "shop")
    res = container_resources(
        one({"requests": {"cpu": "300m"}, "limits": {"memory": "1Gi"}}), defaults
    )
    assert res.requests == {"cpu": q("300m"), "memory": q("1Gi")}
    assert res.limits == {"cpu": q("1"), "memory": q("1Gi")}
    assert res.defaulted == {"requests.memory": "its limit", "limits.cpu": "LimitRange defaults"}
    assert limit_range_defaults(inventory, "elsewhere") == NO_DEFAULTS


def spec(*resources: dict[str, Any], init: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {
        "initContainers": [{"name": f"i{n}", **r} for n, r in enumerate(init)],
        "containers": [{"name": f"c{n}", "resources": r} for n, r in enumerate(resources)],
    }


GUARANTEED = {"limits": {"cpu": "1", "memory": "1Gi"}}


@pytest.mark.parametrize(
    ("pod_spec", "expected"),
    [
        (spec({}), QoS.BEST_EFFORT),
        (spec({"requests": {"cpu": "0", "memory": "0"}}), QoS.BEST_EFFORT),
        (spec({"requests": {"nvidia.com/gpu": "1"}}), QoS.BEST_EFFORT),
        (spec({"requests": {"cpu": "100m"}}), QoS.BURSTABLE),
        (spec(GUARANTEED), QoS.GUARANTEED),
        (spec({"requests": {"cpu": "1", "memory": "1Gi"}, **GUARANTEED}), QoS.GUARANTEED),
        (spec({"requests": {"cpu": "500m"}, **GUARANTEED}), QoS.BURSTABLE),
        (spec({"requests": {"cpu": "0"}, **GUARANTEED}), QoS.BURSTABLE),
        (spec(GUARANTEED, {"limits": {"cpu": "1"}}), QoS.BURSTABLE),
        (spec(GUARANTEED, {}), QoS.BURSTABLE),
        (spec(GUARANTEED, init=({"resources": {"limits": {"memory": "1Gi"}}},)), QoS.BURSTABLE),
        (spec(GUARANTEED, init=({"resources": GUARANTEED},)), QoS.GUARANTEED),
        (
            {"resources": GUARANTEED, "containers": [{"name": "a"}, {"name": "b"}]},
            QoS.GUARANTEED,
        ),
        ({"resources": {"requests": {"cpu": "1"}}, "containers": [{"name": "a"}]}, QoS.BURSTABLE),
    ],
)
def test_qos_class_as_the_kubelet_computes_it(pod_spec: dict[str, Any], expected: QoS) -> None:
    qos, reason = qos_class(pod_spec)
    assert qos is expected
    assert bool(reason) is (expected is not QoS.GUARANTEED)


def test_qos_counts_limit_range_defaults() -> None:
    defaults = container_defaults(
        [limit_range("lr", {"type": "Container", "default": {"cpu": "1", "memory": "1Gi"}})]
    )
    assert qos_class(spec({}), defaults)[0] is QoS.GUARANTEED


def test_pod_requests_follow_the_scheduler() -> None:
    pod_spec = {
        "initContainers": [
            {
                "name": "sidecar",
                "restartPolicy": "Always",
                "resources": {"requests": {"cpu": "100m"}},
            },
            {"name": "migrate", "resources": {"requests": {"cpu": "2", "memory": "64Mi"}}},
        ],
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
            {"name": "b", "resources": {"limits": {"cpu": "250m"}}},
        ],
        "overhead": {"cpu": "50m", "memory": "10Mi"},
    }
    # cpu: the init peak 2 + 0.1 (sidecar started before it) beats 0.1 + 0.5 + 0.25
    assert pod_requests(pod_spec) == {"cpu": q("2.15"), "memory": q("1Gi") + q("10Mi")}
    pod_level = {**pod_spec, "resources": {"requests": {"memory": "4Gi"}}}
    assert pod_requests(pod_level)["memory"] == q("4Gi") + q("10Mi")
    assert pod_requests({}) == {"cpu": 0, "memory": 0}


def test_limit_range_defaults_are_computed_once_per_inventory() -> None:
    inventory = Inventory.from_objects(
        [limit_range("lr", {"type": "Container", "defaultRequest": {"cpu": "100m"}})],
        source=Source.LIVE,
    )
    first = limit_range_defaults(inventory, "shop")
    assert limit_range_defaults(inventory, "shop") is first


@pytest.mark.parametrize(
    "resources",
    [
        {},
        {"requests": {"cpu": "250m"}},
        {"limits": {"cpu": "1"}},
        {"limits": {"cpu": "0"}},
        {"limits": {"cpu": "-1"}},
        {"limits": {"cpu": "one"}},
        {"requests": {"cpu": "bad"}, "limits": {"cpu": "1"}},
        {"requests": {"cpu": "-5m"}},
        {"requests": {"memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    ],
)
def test_pod_requests_agree_with_container_resources(resources: dict[str, Any]) -> None:
    defaults = container_defaults(
        [
            limit_range(
                "lr", {"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "64Mi"}}
            )
        ]
    )
    pod_spec = {"containers": [{"name": "c", "resources": resources}]}
    [only] = containers(pod_spec)
    effective = container_resources(only, defaults).requests
    assert pod_requests(pod_spec, defaults) == {
        r: effective.get(r, Decimal(0)) for r in ("cpu", "memory")
    }
