"""Failure injection, artificial latency and the request log of the test double.

Tests drive these through `KubeApiDouble.inject()`, `.set_latency()` and `.requests`;
the server middleware consults them on every request. All state is guarded by a lock
because tests using the threaded double change it from another thread.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .status import ApiError


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it reached the double (before latency or injected faults)."""

    method: str
    path: str
    query: Mapping[str, str]
    content_type: str | None = None
    body: Any = None  # decoded JSON when the body was JSON, else text, None when empty

    @property
    def is_watch(self) -> bool:
        return self.query.get("watch") in ("true", "1") or "/watch/" in self.path


@dataclass(frozen=True)
class InternalError:
    """An unexpected exception in a handler of the double: a bug in the double (or in a
    test hook such as a store subscriber), answered as a 500 and recorded here."""

    method: str
    path: str
    traceback: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}\n{self.traceback}"


class DoubleFailed(AssertionError):
    """Raised at teardown when the double hit internal errors during the test."""

    def __init__(self, errors: list[InternalError]) -> None:
        listed = "\n".join(str(error) for error in errors)
        super().__init__(
            f"the kube API double failed internally {len(errors)} time(s); the code under "
            f"test saw HTTP 500 for:\n{listed}"
        )
        self.errors = errors


@dataclass
class Injection:
    """A forced error: the next `times` requests matching method and path_regex get it."""

    method: str | None
    path_regex: str
    status: int
    times: int | None = 1  # None: until cleared
    reason: str | None = None
    message: str | None = None
    retry_after_seconds: int | None = None
    hits: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._pattern.search(path) is not None

    def error(self) -> ApiError:
        message = self.message or f"injected failure ({self.status}) by the test"
        return ApiError(
            self.status,
            message,
            reason=self.reason,
            retry_after_seconds=self.retry_after_seconds,
        )


@dataclass(frozen=True)
class _Latency:
    seconds: float
    method: str | None
    pattern: re.Pattern[str] | None

    def applies(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.pattern is None or self.pattern.search(path) is not None


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._injections: list[Injection] = []
        self._latency: _Latency | None = None
        self._requests: list[RecordedRequest] = []
        self._listeners: dict[int, Callable[[RecordedRequest], None]] = {}
        self._tokens = itertools.count(1)

    def listen(self, listener: Callable[[RecordedRequest], None]) -> int:
        """Call `listener` with every request recorded from now on (on the double's loop:
        hand off only)."""
        with self._lock:
            token = next(self._tokens)
            self._listeners[token] = listener
            return token

    def unlisten(self, token: int) -> None:
        with self._lock:
            self._listeners.pop(token, None)

    def add(self, injection: Injection) -> Injection:
        with self._lock:
            self._injections.append(injection)
        return injection

    def clear(self) -> None:
        with self._lock:
            self._injections.clear()

    def set_latency(self, seconds: float, path_regex: str | None, method: str | None) -> None:
        with self._lock:
            pattern = re.compile(path_regex) if path_regex is not None else None
            self._latency = _Latency(seconds, method, pattern) if seconds > 0 else None

    def latency_for(self, method: str, path: str) -> float:
        latency = self._latency
        return latency.seconds if latency is not None and latency.applies(method, path) else 0.0

    def take(self, method: str, path: str) -> ApiError | None:
        """The error to answer with, consuming one use of the first matching injection."""
        with self._lock:
            for injection in self._injections:
                if not injection.exhausted and injection.matches(method, path):
                    injection.hits += 1
                    return injection.error()
        return None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            listeners = list(self._listeners.values())
        for listener in listeners:
            listener(request)

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
