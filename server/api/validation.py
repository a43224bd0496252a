"""Request validation for every RPC: collects field violations, raises InvalidArgument once.

Servicers build a :class:`Validator`, read each field through it, and call ``done()``; the
error interceptor turns the InvalidArgument into INVALID_ARGUMENT with a BadRequest detail
that names every offending field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from assay.server.core.errors import FieldViolation, InvalidArgument

E = TypeVar("E")
K = TypeVar("K", bound=int)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Tokens this server issues are a few hundred characters; the storage layer verifies them.
MAX_PAGE_TOKEN_LEN = 2048
# Run, result and check ids are short; cluster ids are at most a DNS subdomain.
MAX_ID_LEN = 253
# Timestamp.ToDatetime accepts 0001-01-01 .. 9999-12-31; anything outside is malformed.
_MIN_SECONDS = -62135596800
_MAX_SECONDS = 253402300799


def shown(value: str, limit: int = 80) -> str:
    """A request value for an error message: quoted, escaped, and at most ``limit``
    characters of it, so an error never echoes a huge value back (nor overflows the
    status trailer)."""
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


class Validator:
    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self.violations: list[FieldViolation] = []

    def nested(self, prefix: str) -> Validator:
        """A validator for a sub-message (``prefix`` like ``query.``) that reports into this
        one's violations."""
        child = Validator(f"{self._prefix}{prefix}")
        child.violations = self.violations
        return child

    def _path(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def fail(self, name: str, description: str) -> None:
        self.violations.append(FieldViolation(self._path(name), description))

    def limit(self, message: Message, name: str = "limit") -> int:
        """An offset-paged listing's optional limit (workflow executions): 1..1000."""
        if not message.HasField(name):
            return DEFAULT_PAGE_SIZE
        value: int = getattr(message, name)
        if not 1 <= value <= MAX_PAGE_SIZE:
            self.fail(name, f"must be between 1 and {MAX_PAGE_SIZE}, got {value}")
            return DEFAULT_PAGE_SIZE
        return value

    def offset(self, value: int, name: str = "offset") -> int:
        if value < 0:
            self.fail(name, f"must be >= 0, got {value}")
            return 0
        return value

    def page_size(self, value: int, name: str = "page_size") -> int:
        """AIP-158: 0 means the default, above the maximum is lowered to it, < 0 is wrong."""
        if value < 0:
            self.fail(name, f"must be >= 0, got {value}")
            return DEFAULT_PAGE_SIZE
        if value == 0:
            return DEFAULT_PAGE_SIZE
        return min(value, MAX_PAGE_SIZE)

    def page_token(self, value: str, name: str = "page_token") -> str:
        """The token's shape only; whether it is one of ours is storage's call."""
        if len(value) > MAX_PAGE_TOKEN_LEN or not value.isascii():
            self.fail(name, "is not a page token of this server")
            return ""
        return value

    def enums(self, name: str, values: Iterable[K], mapping: Mapping[K, E]) -> frozenset[E]:
        """Enum values from a repeated field; UNSPECIFIED and unknown numbers are violations."""
        out: set[E] = set()
        for value in values:
            if value in mapping:
                out.add(mapping[value])
            else:
                self.fail(name, f"unknown or unspecified value {value}")
        return frozenset(out)

    def enum(self, name: str, value: K, mapping: Mapping[K, E], *, default: E) -> E:
        if value == 0:
            return default
        if value not in mapping:
            self.fail(name, f"unknown value {value}")
            return default
        return mapping[value]

    def since(self, message: Message, name: str = "since") -> datetime | None:
        if not message.HasField(name):
            return None
        ts: timestamp_pb2.Timestamp = getattr(message, name)
        if not _MIN_SECONDS <= ts.seconds <= _MAX_SECONDS or not 0 <= ts.nanos < 1_000_000_000:
            self.fail(name, "not a valid timestamp")
            return None
        return ts.ToDatetime(tzinfo=UTC)

    def identifier(self, name: str, value: str, *, max_len: int = MAX_ID_LEN) -> str:
        """An optional id or name: no control characters (NUL reaches no database), bounded."""
        value = value.strip()
        if len(value) > max_len:
            self.fail(name, f"is longer than {max_len} characters")
            return ""
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            self.fail(name, "contains control characters")
            return ""
        return value

    def required(self, name: str, value: str) -> str:
        if not value.strip():
            self.fail(name, "is required")
        return value.strip()

    def done(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)
