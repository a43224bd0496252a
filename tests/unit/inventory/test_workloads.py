"""Workload records for every kind, and container listing."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.inventory import ContainerKind, containers, workload_of

POD_SPEC = {
    "initContainers": [
        {"name": "init-db"},
        {"name": "proxy", "restartPolicy": "Always"},
    ],
    "containers": [{"name": "app"}, {"name": "metrics"}],
    "ephemeralContainers": [{"name": "debugger"}],
}
TEMPLATE = {"metadata": {"labels": {"app": "x"}, "annotations": {"a": "1"}}, "spec": POD_SPEC}


def obj(kind: str, spec: Any, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": "x", "namespace": "shop", **metadata},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("Deployment", {"replicas": 3, "template": TEMPLATE}),
        ("StatefulSet", {"template": TEMPLATE}),
        ("DaemonSet", {"template": TEMPLATE}),
        ("ReplicaSet", {"template": TEMPLATE}),
        ("ReplicationController", {"template": TEMPLATE}),
        ("Job", {"template": TEMPLATE}),
        ("CronJob", {"schedule": "@daily", "jobTemplate": {"spec": {"template": TEMPLATE}}}),
    ],
)
def test_controllers_expose_their_pod_template(kind: str, spec: Any) -> None:
    workload = workload_of(obj(kind, spec))
    assert workload is not None
    assert (workload.kind, workload.namespace, workload.name) == (kind, "shop", "x")
    assert workload.pod_spec is POD_SPEC
    assert workload.labels == {"app": "x"} and workload.template_annotations == {"a": "1"}
    assert workload.ref.kind == kind


def test_pod_is_its_own_template() -> None:
    pod = obj("Pod", POD_SPEC, labels={"app": "x"})
    workload = workload_of(pod)
    assert workload is not None and workload.pod_spec is POD_SPEC
    assert workload.labels == {"app": "x"}
    assert not workload.selector.matches({"app": "x"})


def test_non_workloads_are_not_workloads() -> None:
    assert workload_of(obj("Service", {})) is None


@pytest.mark.parametrize(
    ("kind", "spec", "replicas"),
    [
        ("Deployment", {"replicas": 3}, 3),
        ("Deployment", {}, 1),
        ("StatefulSet", {"replicas": 0}, 0),
        ("DaemonSet", {}, None),
        ("Job", {}, None),
    ],
)
def test_replicas(kind: str, spec: Any, replicas: int | None) -> None:
    workload = workload_of(obj(kind, spec))
    assert workload is not None and workload.replicas == replicas


@pytest.mark.parametrize(
    ("kind", "spec", "owners", "batch"),
    [
        ("Deployment", {}, [], False),
        ("Job", {}, [], True),
        ("CronJob", {}, [], True),
        ("Pod", {}, [], False),
        ("Pod", {"restartPolicy": "Never"}, [], True),
        ("Pod", {}, [{"kind": "Job", "name": "j", "controller": True}], True),
    ],
)
def test_batch_workloads(kind: str, spec: Any, owners: Any, batch: bool) -> None:
    workload = workload_of(obj(kind, spec, ownerReferences=owners))
    assert workload is not None and workload.is_batch is batch


def test_controller_selectors() -> None:
    deployment = workload_of(obj("Deployment", {"selector": {"matchLabels": {"app": "x"}}}))
    rc = workload_of(obj("ReplicationController", {"template": TEMPLATE}))
    job = workload_of(obj("Job", {"template": TEMPLATE}))
    assert deployment and deployment.selector.matches({"app": "x"})
    assert rc and rc.selector.matches({"app": "x"})  # defaults to the template labels
    assert job and job.selector.matches({"app": "x"})


def test_containers_lists_init_regular_and_ephemeral_with_their_kind() -> None:
    listed = [(c.name, c.kind, c.is_sidecar) for c in containers(POD_SPEC)]
    assert listed == [
        ("init-db", ContainerKind.INIT, False),
        ("proxy", ContainerKind.INIT, True),
        ("app", ContainerKind.CONTAINER, False),
        ("metrics", ContainerKind.CONTAINER, False),
        ("debugger", ContainerKind.EPHEMERAL, False),
    ]
    roles = [c.role for c in containers(POD_SPEC)]
    assert roles == [
        "init container",
        "sidecar container",
        "container",
        "container",
        "ephemeral container",
    ]


def test_containers_filtered_by_kind_and_tolerant_of_garbage() -> None:
    only_regular = containers(POD_SPEC, frozenset({ContainerKind.CONTAINER}))
    assert [c.name for c in only_regular] == ["app", "metrics"]
    assert list(containers({"containers": "nonsense", "initContainers": [1, None]})) == []
