"""Discovery through the official client: /version, /api, /apis, resource lists, and
groups that can be switched off to look like a missing API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import aiohttp
import kubernetes.aio.client as aio
import kubernetes.client as k8s
import pytest

from tests.kubeapi import KubeApiDouble

from .typed import present


class ResourceLister(Protocol):
    def get_api_resources(self) -> k8s.V1APIResourceList: ...


def test_version_and_group_list_with_sync_client(kube_sync_client: k8s.ApiClient) -> None:
    version = k8s.VersionApi(kube_sync_client).get_code()
    assert (version.major, version.minor) == ("1", "31")
    assert version.git_version.startswith("v1.31.")

    assert k8s.CoreApi(kube_sync_client).get_api_versions().versions == ["v1"]
    groups = {g.name: g for g in k8s.ApisApi(kube_sync_client).get_api_versions().groups}
    assert {
        "apps",
        "batch",
        "policy",
        "autoscaling",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "scheduling.k8s.io",
        "discovery.k8s.io",
        "apiextensions.k8s.io",
    } <= groups.keys()
    assert present(groups["autoscaling"].preferred_version).group_version == "autoscaling/v2"
    assert "metrics.k8s.io" not in groups  # absent unless a test registers it


def test_resource_lists_have_kinds_verbs_short_names_and_subresources(
    kube_sync_client: k8s.ApiClient,
) -> None:
    core = {r.name: r for r in k8s.CoreV1Api(kube_sync_client).get_api_resources().resources}
    assert core["pods"].kind == "Pod" and core["pods"].namespaced is True
    assert core["pods"].singular_name == "pod" and core["pods"].short_names == ["po"]
    assert set(core["pods"].verbs) >= {"create", "get", "list", "watch", "patch", "delete"}
    assert core["pods/status"].verbs == ["get", "patch", "update"]
    assert core["namespaces"].namespaced is False
    assert {
        "services",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "nodes",
        "events",
        "persistentvolumeclaims",
        "persistentvolumes",
        "endpoints",
        "limitranges",
        "resourcequotas",
        "replicationcontrollers",
    } <= core.keys()

    apps = {r.name for r in k8s.AppsV1Api(kube_sync_client).get_api_resources().resources}
    assert {
        "deployments",
        "deployments/status",
        "statefulsets",
        "daemonsets",
        "replicasets",
    } <= apps

    expected: dict[Callable[[k8s.ApiClient], ResourceLister], set[str]] = {
        k8s.BatchV1Api: {"jobs", "cronjobs"},
        k8s.PolicyV1Api: {"poddisruptionbudgets"},
        k8s.AutoscalingV2Api: {"horizontalpodautoscalers"},
        k8s.NetworkingV1Api: {"networkpolicies", "ingresses"},
        k8s.RbacAuthorizationV1Api: {
            "roles",
            "rolebindings",
            "clusterroles",
            "clusterrolebindings",
        },
        k8s.CoordinationV1Api: {"leases"},
        k8s.EventsV1Api: {"events"},
        k8s.SchedulingV1Api: {"priorityclasses"},
        k8s.DiscoveryV1Api: {"endpointslices"},
        k8s.ApiextensionsV1Api: {"customresourcedefinitions"},
    }
    for api_class, plurals in expected.items():
        served = {r.name for r in api_class(kube_sync_client).get_api_resources().resources}
        assert plurals <= served, repr(api_class)


async def test_trailing_slashes_are_accepted(kube_api: KubeApiDouble) -> None:
    async with aiohttp.ClientSession() as session:
        for path, kind in [
            ("/api/", "APIVersions"),
            ("/api/v1/", "APIResourceList"),
            ("/apis/", "APIGroupList"),
            ("/apis/apps/", "APIGroup"),
            ("/apis/apps/v1/", "APIResourceList"),
        ]:
            async with session.get(kube_api.url + path) as response:
                assert response.status == 200, path
                assert (await response.json())["kind"] == kind


async def test_disabled_group_disappears_like_a_missing_api(
    kube_api: KubeApiDouble, kube_aio_client: aio.ApiClient
) -> None:
    kube_api.disable_group("apps")

    groups = await aio.ApisApi(kube_aio_client).get_api_versions()
    assert "apps" not in {g.name for g in groups.groups}
    for call in (
        aio.AppsApi(kube_aio_client).get_api_group(),
        aio.AppsV1Api(kube_aio_client).get_api_resources(),
        aio.AppsV1Api(kube_aio_client).list_namespaced_deployment("default"),
    ):
        with pytest.raises(aio.ApiException) as error:
            await call
        assert error.value.status == 404

    # metrics.k8s.io is simply not there, as on a cluster without metrics-server.
    with pytest.raises(aio.ApiException) as error:
        await aio.CustomObjectsApi(kube_aio_client).list_cluster_custom_object(
            "metrics.k8s.io", "v1beta1", "nodes"
        )
    assert error.value.status == 404

    kube_api.enable_group("apps")
    resources = await aio.AppsV1Api(kube_aio_client).get_api_resources()
    assert "deployments" in {r.name for r in resources.resources}
