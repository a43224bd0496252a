"""Authentication of one call: credentials in, a :class:`Principal` out, or Unauthenticated.

The gRPC interceptor (``server/api/auth.py``) and the ``/metrics`` gate (:mod:`.metrics`)
hand over what the caller presented: a bearer token from the ``authorization`` header
and, with mutual TLS, the client certificate TLS verified. A bearer token is decisive when
any token backend is configured (the backends are asked in order: the static file, then
TokenReview); without one, a verified client certificate identifies the caller. With
authentication off every caller is :data:`OPEN_PRINCIPAL` (the server then listens only on
loopback). Errors say "missing" or "not valid" and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assay.server.auth.principal import OPEN_PRINCIPAL, Principal
from assay.server.auth.tls import certificate_principal
from assay.server.auth.tokens import MAX_TOKEN_BYTES, TokenAuthenticator
from assay.server.core.errors import Unauthenticated

MISSING_TOKEN = "missing credentials: send 'authorization: Bearer <token>'"
MISSING_CERTIFICATE = "missing credentials: present a client certificate"
NOT_VALID = "the credentials are not valid"


@dataclass(frozen=True)
class Credentials:
    authorization: tuple[str, ...] = ()
    """Every ``authorization`` header value the call carried."""
    client_certificate: bytes | None = None
    """PEM of the client certificate, when TLS verified one."""


def bearer_token(authorization: tuple[str, ...]) -> str | None:
    """The token of one ``Bearer`` header; None without one; Unauthenticated if malformed."""
    if not authorization:
        return None
    if len(authorization) > 1:
        raise Unauthenticated("more than one authorization header")
    scheme, _, token = authorization[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the authorization header must be 'Bearer <token>'")
    if len(token) > MAX_TOKEN_BYTES or not token.isascii() or not token.isprintable():
        raise Unauthenticated(NOT_VALID)
    return token


class Authenticator:
    def __init__(
        self,
        tokens: Sequence[TokenAuthenticator] = (),
        *,
        client_certificates: bool = False,
        enabled: bool = True,
    ) -> None:
        self._tokens = tuple(tokens)
        self._certificates = client_certificates
        self.enabled = enabled

    @classmethod
    def open(cls) -> Authenticator:
        return cls(enabled=False)

    async def authenticate(self, credentials: Credentials) -> Principal:
        if not self.enabled:
            return OPEN_PRINCIPAL
        token = bearer_token(credentials.authorization) if self._tokens else None
        if token is not None:
            for backend in self._tokens:
                principal = await backend.authenticate(token)
                if principal is not None:
                    return principal
            raise Unauthenticated(NOT_VALID)
        if self._certificates and credentials.client_certificate:
            principal = certificate_principal(credentials.client_certificate)
            if principal is not None:
                return principal
            raise Unauthenticated(NOT_VALID)
        raise Unauthenticated(MISSING_TOKEN if self._tokens else MISSING_CERTIFICATE)
