"""Bearer-token authenticators: the :class:`TokenAuthenticator` protocol and the static file.

The static token file (``ASSAY_TOKEN_FILE``, for development and tests) holds one
``token,user,group1|group2`` line per caller; blank lines and ``#`` comments are skipped.
Tokens are kept only as SHA-256 digests and looked up by the digest of the presented one,
so neither the table nor the lookup time reveals a token. The file is re-read when it
changes (modification time, size or inode); a change that does not parse is logged (by line
number, never content) and the last good table stays in force. The Kubernetes TokenReview
authenticator is in :mod:`.review`; :mod:`.authn` tries them in order.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from typing import Protocol

from assay.server.auth.principal import Principal, Via

log = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 8192


class TokenAuthenticator(Protocol):
    async def authenticate(self, token: str) -> Principal | None:
        """Whom ``token`` stands for; None when this backend does not accept it.

        Raises :class:`~assay.server.core.errors.Unavailable` when it cannot tell now.
        """
        ...


class TokenFileError(ValueError):
    """The token file does not parse; the message names the line, never its content."""


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def parse_token_file(text: str) -> dict[bytes, Principal]:
    """Digest -> principal for every line; :class:`TokenFileError` on the first bad one."""
    table: dict[bytes, Principal] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise TokenFileError(f"line {number}: expected 'token,user,group1|group2'")
        token, user = parts[0], parts[1]
        if len(token) > MAX_TOKEN_BYTES or not token.isascii() or not token.isprintable():
            raise TokenFileError(f"line {number}: the token must be printable ASCII")
        groups = frozenset(g.strip() for g in (parts[2] if len(parts) == 3 else "").split("|"))
        digest = token_digest(token)
        if digest in table:
            raise TokenFileError(f"line {number}: the same token appears twice")
        table[digest] = Principal(user, groups - {""}, Via.TOKEN_FILE)
    return table


class StaticTokens:
    """Tokens from a file, re-read when it changes; :meth:`load` first (it raises)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._table: Mapping[bytes, Principal] = {}
        self._seen: tuple[int, int, int] | None = None

    def _signature(self) -> tuple[int, int, int]:
        stat = os.stat(self.path)
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def load(self) -> None:
        """Read the file now; OSError or :class:`TokenFileError` when it is unusable."""
        signature = self._signature()
        with open(self.path, encoding="utf-8") as stream:
            self._table = parse_token_file(stream.read())
        self._seen = signature

    def _refresh(self) -> None:
        try:
            signature = self._signature()
            if signature == self._seen:
                return
            self._seen = signature  # a bad version is reported once, not on every call
            with open(self.path, encoding="utf-8") as stream:
                self._table = parse_token_file(stream.read())
            log.info("token file %s reloaded: %d tokens", self.path, len(self._table))
        except (OSError, UnicodeDecodeError, TokenFileError) as exc:
            log.warning("token file %s not reloaded, the previous tokens stay: %s", self.path, exc)

    async def authenticate(self, token: str) -> Principal | None:
        self._refresh()
        return self._table.get(token_digest(token))
