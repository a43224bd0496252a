"""A small time-bounded, size-bounded cache for the answers of review APIs.

:class:`~assay.server.auth.review.TokenReviewer` keeps TokenReview answers here keyed by a
SHA-256 digest of the token (never the token), and the metrics access check keeps
SubjectAccessReview answers keyed by the principal. Entries expire ``ttl_s`` after they
were stored, by an injectable monotonic clock (tests move it by hand); the oldest entry
goes first when the cache is full, so a stream of made-up tokens cannot grow memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MonotonicClock = Callable[[], float]
_MISSING = object()


class TtlCache(Generic[K, V]):
    def __init__(
        self, *, ttl_s: float, max_entries: int = 4096, clock: MonotonicClock = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        """(True, value) for a live entry, (False, None) when absent or expired."""
        found = self._entries.get(key)
        if found is None:
            return False, None
        expires, value = found
        if self._clock() >= expires:
            del self._entries[key]
            return False, None
        return True, value

    def put(self, key: K, value: V) -> None:
        if self.ttl_s <= 0:
            return
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + self.ttl_s, value)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
