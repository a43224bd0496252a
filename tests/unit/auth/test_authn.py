"""Credentials to a principal: bearer headers, backends in order, client certificates."""

from __future__ import annotations

import pytest

from assay.server.auth.authn import Authenticator, Credentials, bearer_token
from assay.server.auth.principal import OPEN_PRINCIPAL, Principal, Via
from assay.server.core.errors import Unauthenticated
from tests.certificates import TestCA


class Table:
    def __init__(self, known: dict[str, Principal]) -> None:
        self.known = known
        self.asked: list[str] = []

    async def authenticate(self, token: str) -> Principal | None:
        self.asked.append(token)
        return self.known.get(token)


ALICE = Principal("alice", frozenset({"writers"}))
BOB = Principal("bob", frozenset(), Via.TOKEN_REVIEW)


@pytest.mark.parametrize(
    ("headers", "token"),
    [((), None), (("Bearer abc",), "abc"), (("bearer   abc  ",), "abc")],
)
def test_bearer_headers(headers: tuple[str, ...], token: str | None) -> None:
    assert bearer_token(headers) == token


@pytest.mark.parametrize(
    "headers",
    [("Basic abc",), ("Bearer",), ("Bearer a", "Bearer b"), ("Bearer caf\u00e9",), ("abc",)],
)
def test_malformed_bearer_headers_are_unauthenticated(headers: tuple[str, ...]) -> None:
    with pytest.raises(Unauthenticated) as caught:
        bearer_token(headers)
    assert "caf" not in str(caught.value)


async def test_backends_are_asked_in_order_and_a_token_is_decisive() -> None:
    first, second = Table({"a": ALICE}), Table({"b": BOB})
    authenticator = Authenticator([first, second])
    assert await authenticator.authenticate(Credentials(("Bearer a",))) == ALICE
    assert second.asked == []
    assert await authenticator.authenticate(Credentials(("Bearer b",))) == BOB
    for credentials in (Credentials(("Bearer zzz",)), Credentials()):
        with pytest.raises(Unauthenticated) as caught:
            await authenticator.authenticate(credentials)
        assert "zzz" not in str(caught.value)


async def test_client_certificates_identify_the_caller_without_a_token() -> None:
    ca = TestCA()
    certificate = ca.client("carol", "writers", "ops").cert_pem
    authenticator = Authenticator([Table({"a": ALICE})], client_certificates=True)
    assert await authenticator.authenticate(Credentials((), certificate)) == Principal(
        "carol", frozenset({"writers", "ops"}), Via.CLIENT_CERTIFICATE
    )
    with pytest.raises(Unauthenticated):  # a token that does not hold is not overruled
        await authenticator.authenticate(Credentials(("Bearer zzz",), certificate))
    only_certificates = Authenticator(client_certificates=True)
    with pytest.raises(Unauthenticated, match="present a client certificate"):
        await only_certificates.authenticate(Credentials(("Bearer a",)))


async def test_with_authentication_off_every_caller_is_the_open_principal() -> None:
    assert await Authenticator.open().authenticate(Credentials()) is OPEN_PRINCIPAL
