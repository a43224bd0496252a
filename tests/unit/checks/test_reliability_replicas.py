"""Replica checks (REL-004, REL-008, REL-020): parameters and cases the fixture files
cannot show."""

from __future__ import annotations

import pytest

from assay.server.checks.kit.params import ParamError, build_params
from assay.server.checks.kit.policy import PolicyError, parse_policy
from assay.server.checks.reliability.replicas import MinimumReplicas, SpreadParams
from assay.server.core.types import Severity, Status
from tests.unit.checks.objects import hpa, obj, workload
from tests.unit.checks.runs import REGISTRY, catalogue, only, policy_params, run, statuses


def test_minimum_replicas_from_the_policy_file_apply_to_rel004_and_rel020() -> None:
    text = """
        checks:
          REL-004: {params: {min_replicas: 3}}
          REL-020: {params: {min_replicas: 3}}
        """
    policy = catalogue(text)
    rel004, rel020 = policy.params(REGISTRY.get("REL-004")), policy.params(REGISTRY.get("REL-020"))
    assert rel004 == rel020 == MinimumReplicas(min_replicas=3)
    two = workload("Deployment", "two", replicas=2)
    three = workload("Deployment", "three", replicas=3)
    assert statuses(run("REL-004", [two, three], params=rel004)) == {
        "three": Status.PASSING,
        "two": Status.FAILING,
    }
    assert statuses(run("REL-004", [two, three])) == {
        "three": Status.PASSING,
        "two": Status.PASSING,
    }
    assert statuses(
        run(
            "REL-020",
            [hpa("a", minReplicas=2, maxReplicas=10), hpa("b", minReplicas=3, maxReplicas=10)],
            params=rel020,
        )
    ) == {
        "a": Status.FAILING,
        "b": Status.PASSING,
    }


def test_minimum_replicas_below_one_is_refused_with_its_line() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy("checks:\n  REL-004:\n    params:\n      min_replicas: 0\n", REGISTRY)
    message = "line 4, checks.REL-004.params.min_replicas: must be at least 1, got 0"
    assert message in str(caught.value)
    with pytest.raises(ParamError):
        build_params(MinimumReplicas, {"min_replicas": -2})


def test_topology_keys_decide_what_counts_as_spreading() -> None:
    constraint = {
        "maxSkew": 1,
        "topologyKey": "topology.example.com/rack",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app": "racked"}},
    }
    racked = workload("Deployment", "racked", topologySpreadConstraints=[constraint], replicas=3)
    assert statuses(run("REL-008", [racked])) == {"racked": Status.FAILING}
    params = policy_params(
        "REL-008",
        "topology_keys: [kubernetes.io/hostname, topology.example.com/rack]",
    )
    keys = frozenset({"kubernetes.io/hostname", "topology.example.com/rack"})
    assert params == SpreadParams(topology_keys=keys)
    assert statuses(run("REL-008", [racked], params=params)) == {"racked": Status.PASSING}


def test_invalid_spread_constraints_fail_with_severity_high() -> None:
    constraint = {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "Sometimes",
        "minDomains": 0,
        "labelSelector": {"matchLabels": {"app": "web"}},
    }
    web = workload("Deployment", "web", topologySpreadConstraints=[constraint], replicas=3)
    finding = only(run("REL-008", [web]))
    assert finding.status is Status.FAILING and finding.severity is Severity.HIGH
    assert "minDomains 0 is not at least 1" in finding.message
    assert "whenUnsatisfiable 'Sometimes' is neither" in finding.message


def test_missing_spread_fails_with_the_check_severity() -> None:
    finding = only(run("REL-008", [workload("Deployment", "web", replicas=2)]))
    assert finding.status is Status.FAILING and finding.severity is None


def test_anti_affinity_limited_to_other_namespaces_does_not_spread_the_workload() -> None:
    term = {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": {"app": "web"}},
        "namespaces": ["other"],
    }
    anti = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    web = workload("Deployment", "web", affinity={"podAntiAffinity": anti}, replicas=2)
    finding = only(run("REL-008", [web]))
    assert finding.status is Status.FAILING and "looks only at namespaces other" in finding.message
    term["namespaces"] = ["other", "shop"]
    assert only(run("REL-008", [web])).status is Status.PASSING


def test_hpa_managed_workloads_are_left_to_rel020() -> None:
    web = workload("Deployment", "web")
    [finding] = run("REL-004", [web, hpa("web", minReplicas=4, maxReplicas=10)])
    assert finding.status is Status.SKIPPED and finding.object is None
    assert "no HorizontalPodAutoscaler or KEDA ScaledObject scales" in finding.message


def test_hpa_min_replicas_that_is_not_a_number_fails() -> None:
    scaler = obj("HorizontalPodAutoscaler", "web", spec={"minReplicas": "two", "maxReplicas": 4})
    finding = only(run("REL-020", [scaler]))
    assert finding.status is Status.FAILING
    assert "minReplicas 'two' is not a number" in finding.message
