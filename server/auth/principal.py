"""Who is calling: the authenticated principal, and where the servicers find it.

The gRPC authentication interceptor (``server/api/auth.py``) binds the caller's
:class:`Principal` for the duration of one RPC with :func:`bound`; the servicers (and the
authorisation rules) read it with :func:`current_principal`. A context variable, so it
follows the RPC's task and nothing else.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
from collections.abc import Iterator
from dataclasses import dataclass


class Via(enum.StrEnum):
    """Which authenticator vouched for the principal."""

    TOKEN_FILE = "token-file"
    TOKEN_REVIEW = "token-review"
    CLIENT_CERTIFICATE = "client-certificate"
    OPEN = "open"  # authentication is off: the server only listens on loopback


@dataclass(frozen=True)
class Principal:
    user: str
    groups: frozenset[str] = frozenset()
    via: Via = Via.TOKEN_FILE

    def in_any(self, groups: tuple[str, ...] | frozenset[str]) -> bool:
        return not self.groups.isdisjoint(groups)


OPEN_PRINCIPAL = Principal("anonymous", frozenset(), Via.OPEN)
"""The caller when authentication is off (loopback only): allowed everything."""

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "assay_principal", default=None
)


def current_principal() -> Principal | None:
    """The principal of the RPC being served (None outside one)."""
    return _current.get()


@contextlib.contextmanager
def bound(principal: Principal) -> Iterator[Principal]:
    """Make ``principal`` the current one until the block ends."""
    token = _current.set(principal)
    try:
        yield principal
    finally:
        # A streaming call's generator may be finalised from another context, where there
        # is nothing of ours to reset.
        with contextlib.suppress(ValueError):
            _current.reset(token)
