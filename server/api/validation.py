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

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# Timestamp.ToDatetime accepts 0001-01-01 .. 9999-12-31; anything outside is malformed.
_MIN_SECONDS = -62135596800
_MAX_SECONDS = 253402300799


class Validator:
    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self.violations: list[FieldViolation] = []

    def _path(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def fail(self, name: str, description: str) -> None:
        self.violations.append(FieldViolation(self._path(name), description))

    def limit(self, message: Message, name: str = "limit") -> int:
        if not message.HasField(name):
            return DEFAULT_LIMIT
        value: int = getattr(message, name)
        if not 1 <= value <= MAX_LIMIT:
            self.fail(name, f"must be between 1 and {MAX_LIMIT}, got {value}")
            return DEFAULT_LIMIT
        return value

    def offset(self, value: int, name: str = "offset") -> int:
        if value < 0:
            self.fail(name, f"must be >= 0, got {value}")
            return 0
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

    def required(self, name: str, value: str) -> str:
        if not value.strip():
            self.fail(name, "is required")
        return value.strip()

    def done(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)
