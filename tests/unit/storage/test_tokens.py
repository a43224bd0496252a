"""The page-token codec: round trip, and every way a token can be wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from assay.server.core.errors import InvalidArgument
from assay.server.storage.tokens import MAX_TOKEN_LEN, PageTokens, fingerprint

KEY = bytes(range(32))


def _reason(token: str, listing: str = "runs", query: str = "q") -> str:
    with pytest.raises(InvalidArgument) as excinfo:
        PageTokens(KEY).read(token, listing, query)
    [violation] = excinfo.value.violations
    assert violation.field == "page_token"
    return violation.description


def test_round_trip_is_url_safe_and_opaque() -> None:
    tokens = PageTokens(KEY)
    position = ["2026-02-16T10:30:45.123456+00:00", "run_x", 42, None]

    token = tokens.issue("runs", "q", position)

    assert tokens.read(token, "runs", "q") == position
    assert token.isascii() and "=" not in token and "/" not in token and "+" not in token


def test_fingerprint_is_canonical_and_distinguishes_filters() -> None:
    assert fingerprint(["a", [1, 2], None]) == fingerprint(["a", [1, 2], None])
    assert fingerprint(["a", [1, 2]]) != fingerprint(["a", [2, 1]])
    assert fingerprint([None]) != fingerprint([""])


def test_every_flipped_bit_is_detected() -> None:
    token = PageTokens(KEY).issue("runs", "q", ["x", 1])
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for index in range(len(raw)):
        for bit in (0x01, 0x80):
            changed = bytearray(raw)
            changed[index] ^= bit
            bad = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
            assert _reason(bad)


def test_a_forged_body_without_the_key_is_refused() -> None:
    body = json.dumps(["runs", "q", ["9999", 1]]).encode()
    mac = hmac.new(b"guessed key guessed key", body, hashlib.sha256).digest()[:16]
    forged = base64.urlsafe_b64encode(b"\x01" + mac + body).decode()

    assert "altered" in _reason(forged)


def test_tokens_of_another_key_listing_or_query_are_refused() -> None:
    other_key = PageTokens(bytes(32)).issue("runs", "q", [1])
    assert "altered or was not issued" in _reason(other_key)
    ours = PageTokens(KEY)
    assert "another listing" in _reason(ours.issue("history", "q", [1]))
    assert "other filters" in _reason(ours.issue("runs", "other", [1]))


@pytest.mark.parametrize(
    "garbage",
    ["x", "====", "not base64 at all!", "\x00\x01", "ä", "A" * (MAX_TOKEN_LEN + 1), "AQ"],
)
def test_garbage_is_refused(garbage: str) -> None:
    assert _reason(garbage)


def test_a_short_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        PageTokens(b"short")
