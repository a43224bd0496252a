"""TokenReview and SubjectAccessReview through the official client: answered from what the
test declared, listed by discovery, create-only and never stored."""

from __future__ import annotations

import http.client
import urllib.parse

import kubernetes.client as k8s
import pytest

from tests.kubeapi import KubeApiDouble

from .typed import present


def review(
    client: k8s.ApiClient, token: str, audiences: list[str] | None = None
) -> k8s.V1TokenReviewStatus:
    body = k8s.V1TokenReview(spec=k8s.V1TokenReviewSpec(token=token, audiences=audiences))
    answer = k8s.AuthenticationV1Api(client).create_token_review(body)
    assert isinstance(answer, k8s.V1TokenReview)
    return present(answer.status)


def test_token_reviews_answer_who_holds_a_token(
    kube_api_thread: KubeApiDouble, kube_sync_client: k8s.ApiClient
) -> None:
    kube_api_thread.reviews.accept_token(
        "t1", user="system:serviceaccount:ci:bot", groups=["system:serviceaccounts"]
    )
    kube_api_thread.reviews.accept_token("t2", user="other", audiences=["vault"])
    answer = review(kube_sync_client, "t1")
    user = present(answer.user)
    assert answer.authenticated is True
    assert (user.username, user.groups) == (
        "system:serviceaccount:ci:bot",
        ["system:serviceaccounts"],
    )
    unknown = review(kube_sync_client, "nope")
    assert unknown.authenticated is False and unknown.error
    assert review(kube_sync_client, "t2").authenticated is False  # another audience
    for_vault = review(kube_sync_client, "t2", ["vault", "assay"])
    assert (for_vault.authenticated, for_vault.audiences) == (True, ["vault"])
    kube_api_thread.reviews.revoke_token("t1")
    assert review(kube_sync_client, "t1").authenticated is False
    with pytest.raises(k8s.ApiException) as caught:
        review(kube_sync_client, "")
    assert caught.value.status == 422


def test_access_reviews_follow_the_declared_rules(
    kube_api_thread: KubeApiDouble, kube_sync_client: k8s.ApiClient
) -> None:
    kube_api_thread.reviews.allow_non_resource("/metrics", group="monitoring")
    kube_api_thread.reviews.allow_non_resource("/debug/*", verb="*", user="admin")
    api = k8s.AuthorizationV1Api(kube_sync_client)

    def allowed(user: str, groups: list[str], path: str, verb: str = "get") -> bool:
        spec = k8s.V1SubjectAccessReviewSpec(
            user=user,
            groups=groups,
            non_resource_attributes=k8s.V1NonResourceAttributes(path=path, verb=verb),
        )
        answer = api.create_subject_access_review(k8s.V1SubjectAccessReview(spec=spec))
        return bool(present(answer.status).allowed)

    assert allowed("prometheus", ["monitoring"], "/metrics")
    assert not allowed("prometheus", ["monitoring"], "/metrics", "post")
    assert not allowed("app", [], "/metrics")
    assert allowed("admin", [], "/debug/pprof", "post")


def test_reviews_are_discoverable_create_only_and_never_stored(
    kube_api_thread: KubeApiDouble, kube_sync_client: k8s.ApiClient
) -> None:
    resources = k8s.AuthenticationV1Api(kube_sync_client).get_api_resources().resources
    assert [(r.name, r.verbs, r.namespaced) for r in resources] == [
        ("tokenreviews", ["create"], False)
    ]
    before = kube_api_thread.resource_version
    review(kube_sync_client, "t")
    assert kube_api_thread.resource_version == before  # nothing was stored
    url = urllib.parse.urlsplit(kube_api_thread.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port)
    connection.request("GET", "/apis/authentication.k8s.io/v1/tokenreviews")
    assert connection.getresponse().status == 405
    connection.close()
