"""The authentication layer of the edge: who is calling, may they, and binding them for the
call.

Installed by ``create_grpc_server`` inside error mapping and metrics (so refused calls are
counted and get proper statuses), outside the request guard. For every method outside the
open services (:mod:`.access`) it reads the ``authorization`` metadata and, with mutual
TLS, the client certificate TLS verified; asks the
:class:`~assay.server.auth.authn.Authenticator` (Unauthenticated otherwise); checks the
method's :class:`~assay.server.auth.access.Access` against the rules (PermissionDenied);
and binds the principal (:func:`~assay.server.auth.principal.bound`) while the servicer
runs. Logs name the method and the peer, never a token or a user.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from functools import partial

import grpc

from assay.server.api.access import METHOD_ACCESS, OPEN_SERVICES, service_of
from assay.server.api.interceptors import CallContext, Wrapping
from assay.server.auth.access import Access, AccessRules
from assay.server.auth.authn import Authenticator, Credentials
from assay.server.auth.principal import Principal, bound
from assay.server.core.errors import PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)


NO_CREDENTIALS = Credentials((), None)


def credentials_of(ctx: grpc.aio.ServicerContext) -> Credentials:
    metadata = ctx.invocation_metadata() or ()
    authorization = tuple(
        value for key, value in metadata if key == "authorization" and isinstance(value, str)
    )
    certificates = (ctx.auth_context() or {}).get("x509_pem_cert") or []
    return Credentials(authorization, certificates[0] if certificates else None)


class Authentication:
    """The edge's authentication layer (see the module docstring)."""

    def __init__(
        self,
        authenticator: Authenticator,
        rules: AccessRules,
        *,
        access: Mapping[str, Access] = METHOD_ACCESS,
    ) -> None:
        self._authenticator = authenticator
        self._rules = rules
        self._access = access

    def wrapping(self, handler: grpc.RpcMethodHandler, method: str) -> Wrapping | None:
        if service_of(method) in OPEN_SERVICES:
            return None
        return Wrapping(around=partial(_Admitted, self, method))

    async def admit(self, method: str, ctx: grpc.aio.ServicerContext) -> Principal:
        """The caller of ``method``, authenticated and allowed to call it."""
        # With authentication off every caller is the open principal: nothing to read.
        credentials = credentials_of(ctx) if self._authenticator.enabled else NO_CREDENTIALS
        try:
            principal = await self._authenticator.authenticate(credentials)
        except Unauthenticated:
            log.info("unauthenticated call to %s from %s refused", method, ctx.peer())
            raise
        access = self._access.get(method)
        if access is None:
            log.error("%s is not classified as a read or a write: refused", method)
            raise PermissionDenied(f"{method} is not open to callers on this server")
        try:
            self._rules.check(principal, access)
        except PermissionDenied:
            log.info("%s call to %s from %s refused: not a writer", access, method, ctx.peer())
            raise
        return principal


class _Admitted(CallContext):
    """One call: its caller admitted on entry, bound while the servicer runs."""

    __slots__ = ("_binding", "_ctx", "_layer", "_method")

    def __init__(self, layer: Authentication, method: str, ctx: grpc.aio.ServicerContext) -> None:
        self._layer, self._method, self._ctx = layer, method, ctx
        self._binding: AbstractContextManager[Principal] | None = None

    async def __aenter__(self) -> None:
        principal = await self._layer.admit(self._method, self._ctx)
        self._binding = bound(principal)
        self._binding.__enter__()

    async def leave(self, error: BaseException | None) -> None:
        if self._binding is not None:
            self._binding.__exit__(None, None, None)  # unbinds; the error goes on regardless
