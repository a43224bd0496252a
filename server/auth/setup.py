"""Build the authentication, authorisation and TLS parts from their settings.

Called once by the composition root (``server.app``), which passes the Kubernetes client
for the review APIs when ``token_review`` is on and turns :class:`AuthSetupError` into a
start-up error naming the setting. The parts go to the gRPC edge (authenticator, access
rules, request policy, TLS files) and to the ``/metrics`` endpoint (its gate).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from assay.server.auth.access import AccessRules
from assay.server.auth.authn import Authenticator
from assay.server.auth.cache import MonotonicClock
from assay.server.auth.metrics import MetricsAccess
from assay.server.auth.policy import RequestPolicy
from assay.server.auth.review import AccessReviewer, TokenReviewer
from assay.server.auth.settings import AuthSettings, TlsSettings
from assay.server.auth.tls import TlsError, TlsFiles
from assay.server.auth.tokens import StaticTokens, TokenAuthenticator, TokenFileError
from assay.server.kube.client import KubeClient

log = logging.getLogger(__name__)


class AuthSetupError(Exception):
    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__(problem)


@dataclass(frozen=True)
class AuthParts:
    authenticator: Authenticator
    rules: AccessRules
    policy: RequestPolicy
    tls: TlsFiles | None
    metrics_gate: MetricsAccess | None
    """None when authentication is off: ``/metrics`` is then as open as the loopback
    address it is bound to."""


def build_auth(
    settings: AuthSettings,
    tls: TlsSettings,
    *,
    runner_account: str,
    kube: KubeClient | None = None,
    clock: MonotonicClock | None = None,
) -> AuthParts:
    """The parts for these settings; :class:`AuthSetupError` when a file is unusable or
    TokenReview is asked for without a client."""
    tokens: list[TokenAuthenticator] = []
    if settings.token_file:
        static = StaticTokens(settings.token_file)
        try:
            static.load()
        except (OSError, UnicodeDecodeError, TokenFileError) as exc:
            raise AuthSetupError("auth.token_file", f"unusable token file: {exc}") from None
        tokens.append(static)
    reviewer: AccessReviewer | None = None
    if settings.token_review:
        if kube is None:
            raise AuthSetupError("auth.token_review", "TokenReview needs a cluster")
        ttl = settings.token_cache_ttl_s
        tokens.append(
            TokenReviewer(kube, audiences=settings.token_audiences, ttl_s=ttl, clock=clock)
        )
        reviewer = AccessReviewer(kube, ttl_s=ttl, clock=clock)
    files: TlsFiles | None = None
    if tls.cert:
        files = TlsFiles(tls)
        try:
            files.load()
        except TlsError as exc:
            raise AuthSetupError("tls.cert", str(exc)) from None
    enabled = bool(tokens) or files is not None
    authenticator = Authenticator(
        tokens, client_certificates=files is not None and files.mutual, enabled=enabled
    )
    gate = None
    if enabled:
        gate = MetricsAccess(authenticator, groups=settings.metrics_groups, reviewer=reviewer)
        if not tokens:
            log.warning("/metrics needs a bearer token and no token source is configured")
    return AuthParts(
        authenticator=authenticator,
        rules=AccessRules(frozenset(settings.writer_groups)),
        policy=RequestPolicy.from_settings(settings, runner_account=runner_account),
        tls=files,
        metrics_gate=gate,
    )
