"""PriorityClass check (REL-009): which workloads count as critical, and refused entries."""

from __future__ import annotations

import pytest

from assay.server.checks.kit.params import build_params
from assay.server.checks.kit.policy import PolicyError, parse_policy
from assay.server.checks.reliability.scheduling import PriorityParams
from assay.server.core.types import Status
from tests.unit.checks.objects import workload
from tests.unit.checks.runs import REGISTRY, run, statuses


def test_critical_workloads_are_chosen_by_label_or_annotation_entries() -> None:
    params = build_params(
        PriorityParams,
        {"critical_labels": ["tier=critical", "pci"], "critical_annotations": ["team/oncall"]},
    )
    tiered = workload("Deployment", "tiered")
    tiered["metadata"]["labels"] = {"tier": "critical"}
    other_tier = workload("Deployment", "other-tier")
    other_tier["metadata"]["labels"] = {"tier": "web"}
    pci = workload("Deployment", "pci")
    pci["spec"]["template"]["metadata"]["labels"]["pci"] = ""
    paged = workload("Deployment", "paged")
    paged["spec"]["template"]["metadata"]["annotations"] = {"team/oncall": "payments"}
    marked = workload("Deployment", "marked")
    marked["metadata"]["labels"] = {"assay.kubernaut.ai/critical": "true"}
    objects = [tiered, other_tier, pci, paged, marked]
    # Workloads that are not critical and name no class are not judged at all.
    assert statuses(run("REL-009", objects, params=params)) == {
        "tiered": Status.FAILING,
        "pci": Status.FAILING,
        "paged": Status.FAILING,
    }
    assert statuses(run("REL-009", objects)) == {"marked": Status.FAILING}


@pytest.mark.parametrize("entry", ["=true", " tier=critical", ""])
def test_critical_entries_without_a_key_are_refused(entry: str) -> None:
    text = f"checks:\n  REL-009:\n    params:\n      critical_labels: [{entry!r}]\n"
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, REGISTRY)
    assert "line 4, checks.REL-009.params.critical_labels:" in str(caught.value)
    assert "is not key or key=value" in str(caught.value)


def test_a_missing_class_fails_once_the_manifests_define_any_class() -> None:
    named = workload("Deployment", "web", priorityClassName="platform-high")
    assert statuses(run("REL-009", [named])) == {"web": Status.WARNING}
    other = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "platform-low"},
        "value": 10,
    }
    assert statuses(run("REL-009", [named, other])) == {"web": Status.FAILING}
