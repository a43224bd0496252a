"""Kubernetes review APIs: TokenReview (who holds this token) and SubjectAccessReview.

:class:`TokenReviewer` is the in-cluster bearer-token authenticator: it asks the API
server, through the server's own :class:`~assay.server.kube.client.KubeClient` (which needs
``create`` on ``tokenreviews``), and keeps each answer, yes or no, for ``ttl_s`` in a cache
keyed by the token's SHA-256 digest. Concurrent calls with the same unknown token share one
review. When audiences are configured, a token is accepted only if the API server reports
one of them back (an audience-unaware server reports none).

:class:`AccessReviewer` asks whether a principal may ``get`` a non-resource URL (RBAC's
``nonResourceURLs``), for ``/metrics``; answers are cached per (user, groups) the same way.

A failed review is :class:`~assay.server.core.errors.Unavailable` (never cached); neither
the token nor the review body appears in an error or a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from assay.server.auth.cache import MonotonicClock, TtlCache
from assay.server.auth.principal import Principal, Via
from assay.server.auth.tokens import token_digest
from assay.server.core.errors import Unavailable
from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeError
from assay.server.kube.resources import Resource

log = logging.getLogger(__name__)

TOKEN_REVIEWS = Resource(
    "authentication.k8s.io", "v1", "tokenreviews", namespaced=False, kind="TokenReview"
)
SUBJECT_ACCESS_REVIEWS = Resource(
    "authorization.k8s.io",
    "v1",
    "subjectaccessreviews",
    namespaced=False,
    kind="SubjectAccessReview",
)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class TokenReviewer:
    def __init__(
        self,
        kube: KubeClient,
        *,
        audiences: Sequence[str] = (),
        ttl_s: float = 10.0,
        clock: MonotonicClock | None = None,
    ) -> None:
        self._kube = kube
        self._audiences = tuple(audiences)
        self.cache: TtlCache[bytes, Principal | None] = (
            TtlCache(ttl_s=ttl_s) if clock is None else TtlCache(ttl_s=ttl_s, clock=clock)
        )
        self._inflight: dict[bytes, asyncio.Future[Principal | None]] = {}

    async def authenticate(self, token: str) -> Principal | None:
        key = token_digest(token)
        hit, cached = self.cache.get(key)
        if hit:
            return cached
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this caller was cancelled
                return await self.authenticate(token)  # the reviewing caller was
        future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            principal = await self._review(token)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, no "never retrieved" noise
            raise
        else:
            self.cache.put(key, principal)
            future.set_result(principal)
            return principal
        finally:
            del self._inflight[key]

    async def _review(self, token: str) -> Principal | None:
        spec: dict[str, Any] = {"token": token}
        if self._audiences:
            spec["audiences"] = list(self._audiences)
        body = {"apiVersion": TOKEN_REVIEWS.api_version, "kind": "TokenReview", "spec": spec}
        try:
            answer = await self._kube.create(TOKEN_REVIEWS, None, body)
        except KubeError as exc:
            log.warning("TokenReview failed: %s", type(exc).__name__)
            raise Unavailable("cannot check the bearer token with the cluster now") from None
        status = _mapping(answer.get("status"))
        if status.get("authenticated") is not True:
            return None
        if self._audiences and not set(status.get("audiences") or ()) & set(self._audiences):
            return None
        user = _mapping(status.get("user"))
        name = user.get("username")
        if not isinstance(name, str) or not name:
            return None
        groups = user.get("groups") or []
        return Principal(
            name,
            frozenset(g for g in groups if isinstance(g, str)),
            Via.TOKEN_REVIEW,
        )


class AccessReviewer:
    """May this principal ``get`` a non-resource URL? (SubjectAccessReview, cached.)"""

    def __init__(
        self, kube: KubeClient, *, ttl_s: float = 10.0, clock: MonotonicClock | None = None
    ) -> None:
        self._kube = kube
        self.cache: TtlCache[tuple[str, frozenset[str], str], bool] = (
            TtlCache(ttl_s=ttl_s) if clock is None else TtlCache(ttl_s=ttl_s, clock=clock)
        )

    async def may_get(self, principal: Principal, path: str) -> bool:
        key = (principal.user, principal.groups, path)
        hit, cached = self.cache.get(key)
        if hit:
            return bool(cached)
        body = {
            "apiVersion": SUBJECT_ACCESS_REVIEWS.api_version,
            "kind": "SubjectAccessReview",
            "spec": {
                "user": principal.user,
                "groups": sorted(principal.groups),
                "nonResourceAttributes": {"path": path, "verb": "get"},
            },
        }
        try:
            answer = await self._kube.create(SUBJECT_ACCESS_REVIEWS, None, body)
        except KubeError as exc:
            log.warning("SubjectAccessReview failed: %s", type(exc).__name__)
            raise Unavailable("cannot check access with the cluster now") from None
        allowed = _mapping(answer.get("status")).get("allowed") is True
        self.cache.put(key, allowed)
        return allowed
