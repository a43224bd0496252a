"""Label and field selectors, and limit/continue pagination, through the official client."""

from __future__ import annotations

import kubernetes.client as k8s
import pytest

from tests.kubeapi import KubeApiDouble

from .manifests import namespace, pod
from .typed import as_body, present, status_of


@pytest.fixture
def labelled_pods(kube_api_thread: KubeApiDouble) -> None:
    kube_api_thread.seed(
        [
            pod("api-1", app="api", tier="front", rank="1"),
            pod("api-2", app="api", tier="back", rank="5"),
            pod("db-1", app="db", tier="back"),
            pod("cron-1", app="cron"),
            pod("bare"),
        ]
    )


@pytest.mark.usefixtures("labelled_pods")
@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=api", ["api-1", "api-2"]),
        ("app==db", ["db-1"]),
        ("app!=api", ["bare", "cron-1", "db-1"]),  # absent label matches !=
        ("app in (api, db)", ["api-1", "api-2", "db-1"]),
        ("app notin (api,db)", ["bare", "cron-1"]),
        ("tier", ["api-1", "api-2", "db-1"]),
        ("!tier", ["bare", "cron-1"]),
        ("app=api,tier=back", ["api-2"]),
        ("app in (api,db),!rank", ["db-1"]),
        ("rank>2", ["api-2"]),
        ("app=nothing", []),
    ],
)
def test_label_selector_operators(
    kube_sync_client: k8s.ApiClient, selector: str, expected: list[str]
) -> None:
    pods = k8s.CoreV1Api(kube_sync_client).list_namespaced_pod("default", label_selector=selector)
    assert [present(p.metadata).name for p in pods.items] == expected


def test_malformed_label_selector_is_a_bad_request(kube_sync_client: k8s.ApiClient) -> None:
    with pytest.raises(k8s.ApiException) as error:
        k8s.CoreV1Api(kube_sync_client).list_namespaced_pod("default", label_selector="app in ()")
    assert error.value.status == 400


def test_field_selectors_on_name_and_namespace(
    kube_sync_client: k8s.ApiClient, kube_api_thread: KubeApiDouble
) -> None:
    kube_api_thread.seed([namespace("other"), pod("a"), pod("b"), pod("a", namespace="other")])
    v1 = k8s.CoreV1Api(kube_sync_client)

    def names(field_selector: str) -> list[tuple[str | None, str | None]]:
        pods = v1.list_pod_for_all_namespaces(field_selector=field_selector).items
        return [(present(p.metadata).namespace, present(p.metadata).name) for p in pods]

    assert names(field_selector="metadata.name=a") == [("default", "a"), ("other", "a")]
    assert names(field_selector="metadata.name==a,metadata.namespace=other") == [("other", "a")]
    assert names(field_selector="metadata.namespace!=default") == [("other", "a")]
    assert names(field_selector="metadata.name!=a") == [("default", "b")]
    # Resource-specific field labels work too; unknown ones are rejected like the real server.
    assert len(names(field_selector="status.phase=Pending")) == 3
    with pytest.raises(k8s.ApiException) as error:
        names(field_selector="spec.nonsense=1")
    assert error.value.status == 400
    assert "field label not supported" in status_of(error.value)["message"]


def test_limit_and_continue_pages_are_consistent(
    kube_sync_client: k8s.ApiClient, kube_api_thread: KubeApiDouble
) -> None:
    kube_api_thread.seed([pod(f"p{i:02}") for i in range(7)])
    v1 = k8s.CoreV1Api(kube_sync_client)

    first = v1.list_namespaced_pod("default", limit=3)
    assert [present(p.metadata).name for p in first.items] == ["p00", "p01", "p02"]
    assert present(first.metadata)._continue and present(first.metadata).remaining_item_count == 4

    # Writes between pages must not show up: pages come from the first page's snapshot.
    v1.create_namespaced_pod("default", as_body(pod("p03a"), k8s.V1Pod))
    v1.delete_namespaced_pod("p05", "default")

    names, token = (
        [present(p.metadata).name for p in first.items],
        present(first.metadata)._continue,
    )
    while token:
        page = v1.list_namespaced_pod("default", limit=3, _continue=token)
        assert present(page.metadata).resource_version == present(first.metadata).resource_version
        names += [present(p.metadata).name for p in page.items]
        token = present(page.metadata)._continue
    assert names == [f"p{i:02}" for i in range(7)]

    lists = [r for r in kube_api_thread.requests if r.method == "GET" and r.path.endswith("/pods")]
    assert [r.query.get("limit") for r in lists] == ["3", "3", "3"]
    assert [bool(r.query.get("continue")) for r in lists] == [False, True, True]

    fresh = [present(p.metadata).name for p in v1.list_namespaced_pod("default").items]
    assert "p03a" in fresh and "p05" not in fresh


def test_continue_token_expires_after_compaction(
    kube_sync_client: k8s.ApiClient, kube_api_thread: KubeApiDouble
) -> None:
    kube_api_thread.seed([pod(f"p{i}") for i in range(4)])
    v1 = k8s.CoreV1Api(kube_sync_client)
    first = v1.list_namespaced_pod("default", limit=2)
    v1.create_namespaced_pod("default", as_body(pod("newer"), k8s.V1Pod))
    kube_api_thread.compact()
    with pytest.raises(k8s.ApiException) as error:
        v1.list_namespaced_pod("default", limit=2, _continue=present(first.metadata)._continue)
    assert error.value.status == 410
    assert status_of(error.value)["reason"] == "Expired"
