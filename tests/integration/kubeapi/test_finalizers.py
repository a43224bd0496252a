"""Finalizers: DELETE only marks the object; removing the last finalizer deletes it."""

from __future__ import annotations

import kubernetes.aio.client as aio
import kubernetes.aio.watch as aio_watch
import pytest

from tests.kubeapi import KubeApiDouble

from .manifests import config_map
from .typed import as_body, json_object, present, status_of

FINALIZER = "assay.example.com/cleanup"


async def test_delete_with_finalizers_marks_then_update_removes(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    v1 = aio.CoreV1Api(kube_aio_client)
    body = config_map("guarded")
    body["metadata"]["finalizers"] = [FINALIZER]
    created = await v1.create_namespaced_config_map("default", as_body(body, aio.V1ConfigMap))

    # With finalizers left, DELETE answers the object itself, not a Status.
    marked = json_object(await v1.delete_namespaced_config_map("guarded", "default"))
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    still_there = await v1.read_namespaced_config_map("guarded", "default")
    assert present(still_there.metadata).deletion_timestamp is not None
    assert present(still_there.metadata).finalizers == [FINALIZER]

    again = json_object(await v1.delete_namespaced_config_map("guarded", "default"))
    assert again["metadata"]["resourceVersion"] == present(still_there.metadata).resource_version

    with pytest.raises(aio.ApiException) as forbidden:
        await v1.patch_namespaced_config_map(
            "guarded", "default", {"metadata": {"finalizers": [FINALIZER, "another/one"]}}
        )
    assert forbidden.value.status == 422
    assert "no new finalizers" in status_of(forbidden.value)["message"]

    await v1.patch_namespaced_config_map(
        "guarded",
        "default",
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    assert kube_api.get_object("v1", "ConfigMap", "guarded", "default") is None

    # The history tells the same story: MODIFIED (deletionTimestamp set), then DELETED.
    seen: list[tuple[str, bool]] = []
    async with aio_watch.Watch() as watch:
        async for event in watch.stream(
            v1.list_namespaced_config_map,
            "default",
            resource_version=present(created.metadata).resource_version,
            timeout_seconds=5,
        ):
            seen.append((event["type"], bool(present(event["object"].metadata).deletion_timestamp)))
            if event["type"] == "DELETED":
                watch.stop()
    assert seen == [("MODIFIED", True), ("DELETED", True)]
