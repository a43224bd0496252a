"""Bearer tokens checked by the cluster's TokenReview (served by the API double), cached for
a short time keyed by the token's digest; /metrics access by RBAC through a
SubjectAccessReview."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from assay.client.api import AssayClient, ClientError, Credentials
from assay.server.app import AssayServer
from assay.server.auth.principal import Principal, Via
from assay.server.auth.review import AccessReviewer, TokenReviewer
from assay.server.auth.settings import AuthSettings
from assay.server.core.errors import Unavailable
from assay.server.kube.client import KubeClient
from assay.server.kube.settings import KubeSettings
from assay.server.settings import StartupError
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from tests.integration.api.server_fixtures import server_settings
from tests.integration.auth.harness import serve
from tests.kubeapi import KubeApiDouble

TOKEN = "eyJhbGciOiJSUzI1NiJ9.sa-token.sig"
REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reviews(api: KubeApiDouble) -> int:
    return sum(1 for r in api.requests if r.method == "POST" and r.path == REVIEWS)


async def test_a_review_is_cached_until_its_ttl_then_asked_again(
    kube_api: KubeApiDouble, kube: KubeClient
) -> None:
    kube_api.reviews.accept_token(TOKEN, user="system:serviceaccount:ci:deployer", groups=["ci"])
    clock = Clock()
    reviewer = TokenReviewer(kube, ttl_s=10, clock=clock)
    expected = Principal("system:serviceaccount:ci:deployer", frozenset({"ci"}), Via.TOKEN_REVIEW)
    assert await reviewer.authenticate(TOKEN) == expected
    [request] = [r for r in kube_api.requests if r.path == REVIEWS]
    assert request.body["spec"] == {"token": TOKEN}

    kube_api.reviews.revoke_token(TOKEN)
    clock.now += 9.9
    assert await reviewer.authenticate(TOKEN) == expected  # still cached
    assert reviews(kube_api) == 1
    clock.now += 0.1
    assert await reviewer.authenticate(TOKEN) is None  # expired, asked again: revoked
    assert reviews(kube_api) == 2
    assert await reviewer.authenticate(TOKEN) is None  # a "no" is cached too
    assert reviews(kube_api) == 2
    assert all(TOKEN.encode() not in key for key in reviewer.cache._entries)


async def test_concurrent_calls_with_one_token_share_one_review(
    kube_api: KubeApiDouble, kube: KubeClient
) -> None:
    kube_api.reviews.accept_token(TOKEN, user="u")
    reviewer = TokenReviewer(kube, ttl_s=10)
    answers = await asyncio.gather(*(reviewer.authenticate(TOKEN) for _ in range(5)))
    assert {a.user for a in answers if a is not None} == {"u"}
    assert reviews(kube_api) == 1


async def test_audiences_must_be_confirmed_by_the_api_server(
    kube_api: KubeApiDouble, kube: KubeClient
) -> None:
    kube_api.reviews.accept_token("for-assay", user="a", audiences=["assay"])
    kube_api.reviews.accept_token("for-vault", user="v", audiences=["vault"])
    reviewer = TokenReviewer(kube, audiences=["assay"], ttl_s=0)
    assert await reviewer.authenticate("for-assay") is not None
    assert await reviewer.authenticate("for-vault") is None
    plain = TokenReviewer(kube, ttl_s=0)  # without audiences: the API server's own
    assert await plain.authenticate("for-assay") is None


async def test_an_unreachable_cluster_is_unavailable_and_not_cached(
    kube_api: KubeApiDouble, kube: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    kube_api.reviews.accept_token(TOKEN, user="u")
    kube_api.inject(method="POST", path_regex="tokenreviews", status=500)
    reviewer = TokenReviewer(kube, ttl_s=10)
    with pytest.raises(Unavailable) as caught:
        await reviewer.authenticate(TOKEN)
    assert TOKEN not in str(caught.value) and TOKEN not in caplog.text
    assert await reviewer.authenticate(TOKEN) is not None


async def test_access_reviews_are_cached_per_principal(
    kube_api: KubeApiDouble, kube: KubeClient
) -> None:
    kube_api.reviews.allow_non_resource("/metrics", group="monitoring")
    clock = Clock()
    reviewer = AccessReviewer(kube, ttl_s=5, clock=clock)
    prometheus = Principal("system:serviceaccount:monitoring:prometheus", frozenset({"monitoring"}))
    stranger = Principal("system:serviceaccount:default:app", frozenset())
    assert await reviewer.may_get(prometheus, "/metrics")
    assert not await reviewer.may_get(stranger, "/metrics")
    assert await reviewer.may_get(prometheus, "/metrics")
    posted = [r.body for r in kube_api.requests if r.path.endswith("/subjectaccessreviews")]
    assert len(posted) == 2
    assert posted[0]["spec"]["nonResourceAttributes"] == {"path": "/metrics", "verb": "get"}
    clock.now += 5
    assert await reviewer.may_get(prometheus, "/metrics")
    assert len([r for r in kube_api.requests if r.path.endswith("subjectaccessreviews")]) == 3


def test_the_server_authenticates_and_authorises_with_token_reviews(
    sqlite_repository: Repository,
) -> None:
    api = KubeApiDouble()
    api.reviews.accept_token("viewer-token", user="system:serviceaccount:a:viewer")
    api.reviews.accept_token("ops-token", user="alice", groups=["assay:writers"])
    settings = server_settings(auth=AuthSettings(token_review=True))
    with serve(sqlite_repository, settings, api=api) as secured:
        with AssayClient(secured.target, credentials=Credentials(token="viewer-token")) as c:
            assert len(c.list_runs(apb.ListRunsRequest()).runs) == 0
            with pytest.raises(ClientError) as caught:
                c.cancel_run("run_x")
            assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
        with AssayClient(secured.target, credentials=Credentials(token="ops-token")) as c:
            with pytest.raises(ClientError) as caught:
                c.cancel_run("run_x")
            assert caught.value.code is grpc.StatusCode.NOT_FOUND  # authorised, no such run
        with AssayClient(secured.target, credentials=Credentials(token="forged")) as c:
            with pytest.raises(ClientError) as caught:
                c.list_runs(apb.ListRunsRequest())
            assert caught.value.code is grpc.StatusCode.UNAUTHENTICATED
        assert secured.contexts == [""]  # one client, for the reviews, of its own cluster


def test_token_review_needs_a_cluster(sqlite_repository: Repository, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    settings = server_settings(
        auth=AuthSettings(token_review=True), kube=KubeSettings(kubeconfig=str(kubeconfig))
    )
    server = AssayServer(settings, repository=sqlite_repository)
    with pytest.raises(StartupError, match=r"^ASSAY_TOKEN_REVIEW \(--token-review\): TokenReview"):
        asyncio.run(server.start())
