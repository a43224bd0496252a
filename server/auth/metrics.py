"""Who may read ``/metrics``: the gate the composition root gives the metrics endpoint.

With authentication on, ``/metrics`` needs a bearer token (the static file or TokenReview,
as for gRPC); without one, or with one that does not hold, the answer is 401. An
authenticated caller may read the metrics when it is in one of ``ASSAY_METRICS_GROUPS``
or, with TokenReview on, when the cluster's RBAC lets it ``get`` the non-resource URL
``/metrics`` (a SubjectAccessReview: the convention Prometheus scrape configs and
kube-rbac-proxy follow); otherwise 403.
"""

from __future__ import annotations

from assay.server.auth.authn import Authenticator, Credentials, bearer_token
from assay.server.auth.review import AccessReviewer
from assay.server.core.errors import Unauthenticated, Unavailable
from assay.server.observability.http import Verdict

METRICS_PATH = "/metrics"


class MetricsAccess:
    def __init__(
        self,
        authenticator: Authenticator,
        *,
        groups: tuple[str, ...],
        reviewer: AccessReviewer | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._groups = frozenset(groups)
        self._reviewer = reviewer

    async def __call__(self, authorization: tuple[str, ...]) -> Verdict:
        try:
            if bearer_token(authorization) is None:
                return Verdict.UNAUTHENTICATED
            principal = await self._authenticator.authenticate(Credentials(authorization))
            if principal.in_any(self._groups):
                return Verdict.ALLOWED
            if self._reviewer is not None and await self._reviewer.may_get(principal, METRICS_PATH):
                return Verdict.ALLOWED
        except Unauthenticated:
            return Verdict.UNAUTHENTICATED
        except Unavailable:
            return Verdict.UNAVAILABLE
        return Verdict.FORBIDDEN
