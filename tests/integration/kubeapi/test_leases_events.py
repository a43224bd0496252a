"""coordination.k8s.io Leases and Events are plain resources: create, get, replace (with
optimistic concurrency, which leader election relies on) and field-selected lists."""

from __future__ import annotations

from datetime import UTC, datetime

import kubernetes.aio.client as aio
import kubernetes.client as k8s
import pytest

from .typed import present


def test_lease_create_get_replace_and_conflict(kube_sync_client: k8s.ApiClient) -> None:
    coordination = k8s.CoordinationV1Api(kube_sync_client)
    now = datetime.now(UTC).replace(microsecond=0)
    lease = k8s.V1Lease(
        metadata=k8s.V1ObjectMeta(name="assay-controller"),
        spec=k8s.V1LeaseSpec(
            holder_identity="pod-a",
            lease_duration_seconds=15,
            acquire_time=now,
            renew_time=now,
            lease_transitions=0,
        ),
    )
    created = coordination.create_namespaced_lease("kube-system", lease)
    assert present(created.spec).holder_identity == "pod-a"
    assert present(created.spec).renew_time == now

    fetched = coordination.read_namespaced_lease("assay-controller", "kube-system")
    present(fetched.spec).holder_identity = "pod-b"
    present(fetched.spec).lease_transitions = 1
    taken = coordination.replace_namespaced_lease("assay-controller", "kube-system", fetched)
    assert (present(taken.spec).holder_identity, present(taken.spec).lease_transitions) == (
        "pod-b",
        1,
    )

    # A contender holding the old copy loses the race with 409 Conflict.
    present(created.spec).holder_identity = "pod-c"
    with pytest.raises(k8s.ApiException) as error:
        coordination.replace_namespaced_lease("assay-controller", "kube-system", created)
    assert error.value.status == 409


async def test_core_and_events_v1_events(kube_aio_client: aio.ApiClient) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    now = datetime.now(UTC).replace(microsecond=0)
    for pod_name, reason in (("web", "Pulled"), ("web", "Started"), ("db", "BackOff")):
        await v1.create_namespaced_event(
            "default",
            aio.CoreV1Event(
                metadata=aio.V1ObjectMeta(generate_name=f"{pod_name}."),
                involved_object=aio.V1ObjectReference(
                    kind="Pod", name=pod_name, namespace="default"
                ),
                reason=reason,
                message=f"{reason} {pod_name}",
                type="Normal",
                first_timestamp=now,
                last_timestamp=now,
                count=1,
                source=aio.V1EventSource(component="kubelet"),
            ),
        )
    web_events = await v1.list_namespaced_event(
        "default", field_selector="involvedObject.kind=Pod,involvedObject.name=web"
    )
    assert sorted(present(e.reason) for e in web_events.items) == ["Pulled", "Started"]
    assert web_events.items[0].first_timestamp == now

    events_v1 = aio.EventsV1Api(kube_aio_client)
    created = await events_v1.create_namespaced_event(
        "default",
        aio.EventsV1Event(
            metadata=aio.V1ObjectMeta(name="web.remediated"),
            event_time=datetime.now(UTC),
            action="Remediate",
            reason="Remediated",
            reporting_controller="assay.example.com/workflow",
            reporting_instance="assay-0",
            type="Normal",
            note="scaled up",
            regarding=aio.V1ObjectReference(kind="Deployment", name="web", namespace="default"),
        ),
    )
    assert present(created.regarding).name == "web"
    listed = await events_v1.list_namespaced_event("default", field_selector="reason=Remediated")
    assert [present(e.metadata).name for e in listed.items] == ["web.remediated"]
