"""Page tokens: opaque, signed keyset cursors bound to the query that issued them (AIP-158).

Every paged listing of the repository (results, runs, history, audit events) hands out
``next_page_token`` strings made here and reads them back on the next call. A token is::

    base64url( version | HMAC-SHA256(key, body)[:16] | body )
    body = JSON [listing, query fingerprint, position]

- the *position* is the sort key of the last row served (and, for result listings, the run
  the query was resolved to), so the next page is an index range read from there on;
- the *fingerprint* is a digest of the query's filters (not its page size, which may change
  between pages), so a token replayed with other filters is rejected instead of silently
  paging through a different listing;
- the *MAC* makes any change to the token detectable. Its key lives in the database
  (``server_secrets``, created by a migration), so every replica accepts every replica's
  tokens and they survive restarts.

A token that does not verify raises InvalidArgument naming the ``page_token`` field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from assay.server.core.errors import FieldViolation, InvalidArgument

FIELD = "page_token"
# Far above any token this module issues; a longer one is rejected before decoding.
MAX_TOKEN_LEN = 2048
_VERSION = 1
_MAC_LEN = 16


def fingerprint(parts: Sequence[Any]) -> str:
    """A short digest of a query's filters; ``parts`` must be JSON-serialisable and ordered
    canonically by the caller (sets sorted)."""
    canonical = json.dumps(list(parts), separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def _invalid(description: str) -> InvalidArgument:
    return InvalidArgument(FieldViolation(FIELD, description))


class PageTokens:
    """Issues and verifies the page tokens of one database (one key)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("page token key too short")
        self._key = key

    def issue(self, listing: str, query: str, position: Sequence[Any]) -> str:
        """A token for the page after ``position`` of ``listing`` under query ``query``."""
        body = json.dumps([listing, query, list(position)], separators=(",", ":")).encode()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_LEN]
        return base64.urlsafe_b64encode(bytes([_VERSION]) + mac + body).rstrip(b"=").decode()

    def read(self, token: str, listing: str, query: str) -> list[Any]:
        """The position a token carries; InvalidArgument when it is not a valid token of
        this listing and query."""
        if len(token) > MAX_TOKEN_LEN:
            raise _invalid("is not a page token of this server (too long)")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise _invalid("is not a page token of this server (not base64url)") from None
        if len(raw) <= 1 + _MAC_LEN or raw[0] != _VERSION:
            raise _invalid("is not a page token of this server")
        mac, body = raw[1 : 1 + _MAC_LEN], raw[1 + _MAC_LEN :]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_LEN]
        if not hmac.compare_digest(mac, expected):
            raise _invalid("was altered or was not issued by this server")
        try:
            issued_for, issued_query, position = json.loads(body)
        except (ValueError, TypeError):  # a signed body always parses; defensive only
            raise _invalid("is not a page token of this server") from None
        if issued_for != listing:
            raise _invalid(f"belongs to another listing ({issued_for}), not {listing}")
        if issued_query != query:
            raise _invalid(
                "belongs to a query with other filters; repeat the first page's filters "
                "with its token, or start again without one"
            )
        if not isinstance(position, list):
            raise _invalid("is not a page token of this server")
        return position
