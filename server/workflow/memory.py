"""A bounded, insertion-ordered memory of recent keys (oldest forgotten first).

The reconciler remembers which executions it has settled and which PipelineRun versions
it has mirrored, and the audit trail which keys it has written, to skip repeated no-op API
and sink calls. Forgetting is always safe: it only costs the skipped call again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class RecentMap(Generic[V]):
    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, V] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> V | None:
        return self._items.get(key)

    def put(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def discard(self, key: str) -> None:
        self._items.pop(key, None)
