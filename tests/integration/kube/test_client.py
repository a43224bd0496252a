"""The Kubernetes client over HTTP against the API test double: verbs, discovery, /version,
errors with the API server's message, and URL paths no value can bend."""

from __future__ import annotations

from typing import Any

import pytest

from assay.server.core.errors import NotFound, PermissionDenied
from assay.server.kube.client import KubeClient, PatchType
from assay.server.kube.errors import (
    KubeAlreadyExists,
    KubeConflict,
    KubeForbidden,
    KubeInvalid,
    KubeNotFound,
    KubePathError,
    KubeServerError,
    domain_error,
)
from assay.server.kube.resources import LEASES, NAMESPACES, NODES, PODS, Resource
from tests.kubeapi import KubeApiDouble

CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
SECRETS = Resource("", "v1", "secrets", kind="Secret")


def configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def lease(name: str, holder: str = "") -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"holderIdentity": holder},
    }


async def test_create_get_replace_patch_delete(kube: KubeClient, kube_api: KubeApiDouble) -> None:
    created = await kube.create(CONFIGMAPS, "default", configmap("c", a="1"))
    assert created["metadata"]["uid"] and created["data"] == {"a": "1"}

    got = await kube.get(CONFIGMAPS, "default", "c")
    got["data"]["b"] = "2"
    replaced = await kube.replace(CONFIGMAPS, "default", "c", got)
    assert replaced["data"] == {"a": "1", "b": "2"}

    merged = await kube.patch(CONFIGMAPS, "default", "c", {"data": {"a": None, "c": "3"}})
    assert merged["data"] == {"b": "2", "c": "3"}
    patched = await kube.patch(
        CONFIGMAPS,
        "default",
        "c",
        [{"op": "replace", "path": "/data/b", "value": "two"}],
        patch_type=PatchType.JSON,
    )
    assert patched["data"] == {"b": "two", "c": "3"}
    kinds = [r.content_type for r in kube_api.requests if r.method == "PATCH"]
    assert kinds == [PatchType.MERGE.value, PatchType.JSON.value]

    await kube.delete(CONFIGMAPS, "default", "c", uid=created["metadata"]["uid"])
    assert kube_api.get_object("v1", "ConfigMap", "c", "default") is None


async def test_stale_writes_and_preconditions_conflict(kube: KubeClient) -> None:
    first = await kube.create(LEASES, "default", lease("l"))
    await kube.replace(LEASES, "default", "l", {**first, "spec": {"holderIdentity": "a"}})
    with pytest.raises(KubeConflict, match="has been modified"):
        await kube.replace(LEASES, "default", "l", {**first, "spec": {"holderIdentity": "b"}})
    with pytest.raises(KubeConflict):
        rv = first["metadata"]["resourceVersion"]
        await kube.delete(LEASES, "default", "l", resource_version=rv)
    with pytest.raises(KubeAlreadyExists):
        await kube.create(LEASES, "default", lease("l"))


async def test_status_subresource(kube: KubeClient, kube_api: KubeApiDouble) -> None:
    kube_api.seed({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    node = await kube.get(NODES, None, "n1")
    node["status"] = {"allocatable": {"cpu": "4"}}
    node["metadata"]["labels"] = {"ignored": "by the status subresource"}
    written = await kube.replace_status(NODES, None, "n1", node)
    assert written["status"]["allocatable"] == {"cpu": "4"}
    assert "ignored" not in (written["metadata"].get("labels") or {})
    assert (await kube.get(NODES, None, "n1", subresource="status"))["status"] == written["status"]
    assert [r.path for r in kube_api.requests if r.method == "PUT"] == ["/api/v1/nodes/n1/status"]


async def test_discovery_and_version(kube: KubeClient, kube_api: KubeApiDouble) -> None:
    kube_api.disable_group("autoscaling")
    served = await kube.discover()
    assert served.serves("v1") and served.serves("apps/v1") and served.serves("apps")
    assert served.missing("autoscaling/v2") == "autoscaling"
    assert served.missing("apps/v9") == "apps/v9"
    assert served.missing("metrics.k8s.io") == "metrics.k8s.io"
    version = await kube.version()
    assert version.major and version.minor and version.git_version.startswith("v")


async def test_api_errors_keep_the_api_servers_message(
    kube: KubeClient, kube_api: KubeApiDouble
) -> None:
    message = 'pods is forbidden: User "system:serviceaccount:x:assay" cannot list resource'
    kube_api.inject(path_regex="^/api/v1/pods$", status=403, message=message)
    with pytest.raises(KubeForbidden) as forbidden:
        await kube.list(PODS)
    assert forbidden.value.message == message
    assert (forbidden.value.method, forbidden.value.path) == ("GET", "/api/v1/pods")
    mapped = domain_error(forbidden.value)
    assert isinstance(mapped, PermissionDenied) and str(mapped) == message

    with pytest.raises(KubeNotFound) as missing:
        await kube.get(CONFIGMAPS, "default", "nope")
    mapped = domain_error(missing.value)
    assert isinstance(mapped, NotFound)
    assert (mapped.kind, mapped.ident) == ("configmaps", "nope")
    assert str(mapped) == 'configmaps "nope" not found'

    with pytest.raises(KubeNotFound, match='namespaces "elsewhere" not found'):
        await kube.create(CONFIGMAPS, "elsewhere", configmap("c", "elsewhere"))

    kube_api.inject(path_regex="configmaps", status=503, message="etcd leader changed")
    with pytest.raises(KubeServerError, match="etcd leader changed") as outage:
        await kube.get(CONFIGMAPS, "default", "x")
    assert outage.value.retryable


async def test_invalid_objects_carry_their_causes(kube: KubeClient) -> None:
    with pytest.raises(KubeInvalid) as invalid:
        await kube.create(CONFIGMAPS, "default", configmap("Not_A_Name"))
    assert invalid.value.causes and invalid.value.causes[0].get("field") == "metadata.name"


TRAVERSAL = "../../api/v1/namespaces/kube-system/secrets/x"


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("default", TRAVERSAL),
        ("kube-system/secrets/x#", "y"),
        ("default", "..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fkube-system%2Fsecrets%2Fx"),
        ("default", ""),
        ("default", "."),
        ("default", ".."),
        ("", "x"),
        ("default", "a\x00b"),
        ("default", "a\nb"),
    ],
)
async def test_no_value_can_change_the_url_path(
    kube: KubeClient, kube_api: KubeApiDouble, namespace: str, name: str
) -> None:
    with pytest.raises(KubePathError):
        await kube.get(SECRETS, namespace, name)
    with pytest.raises(KubePathError):
        await kube.delete(SECRETS, namespace, name)
    assert kube_api.requests == []  # refused before anything was sent


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a%2Fb"])
async def test_every_segment_is_checked(
    kube: KubeClient, kube_api: KubeApiDouble, bad: str
) -> None:
    with pytest.raises(KubePathError):
        await kube.list(CONFIGMAPS, bad)
    with pytest.raises(KubePathError):
        await kube.get(Resource("", "v1", bad), None, "x")
    with pytest.raises(KubePathError):
        await kube.get(Resource(bad or "..", "v1", "things"), None, "x")
    with pytest.raises(KubePathError):
        await kube.get(NAMESPACES, None, "default", subresource=bad or "..")
    assert kube_api.requests == []


async def test_other_characters_travel_escaped_in_their_segment(
    kube: KubeClient, kube_api: KubeApiDouble
) -> None:
    for name in ("a#b", "a?b=c", "a b", "ä"):
        with pytest.raises(KubeNotFound):
            await kube.get(CONFIGMAPS, "default", name)
    assert (
        CONFIGMAPS.path("default", "a?b=c#d")
        == "/api/v1/namespaces/default/configmaps/a%3Fb%3Dc%23d"
    )
    assert [(r.path, dict(r.query)) for r in kube_api.requests] == [
        (f"/api/v1/namespaces/default/configmaps/{name}", {})
        for name in ("a#b", "a?b=c", "a b", "ä")
    ]
