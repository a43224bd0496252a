"""`limit`/`continue` list pagination with consistent pages.

A real API server serves every page of a paginated list from the etcd revision of the
first page, so objects written between pages neither appear nor vanish. The double keeps
the first page's full result as a snapshot (the stored objects themselves: the store never
changes one in place) and hands out an opaque continue token naming it; like etcd, it can
only honour the token while that revision has not been compacted (otherwise 410 Expired,
the answer clients are written to handle).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from .jsonutil import JsonObject
from .status import bad_request, expired

_MAX_SNAPSHOTS = 256  # bounded like any server-side cache; older tokens then expire


@dataclass(frozen=True)
class Page:
    items: list[JsonObject]
    resource_version: int
    continue_token: str
    remaining: int


@dataclass(frozen=True)
class _Snapshot:
    revision: int
    items: list[JsonObject]


class Paginator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[int, _Snapshot] = OrderedDict()
        self._ids = itertools.count(1)

    def first_page(self, items: list[JsonObject], revision: int, limit: int | None) -> Page:
        if not limit or len(items) <= limit:
            return Page(items, revision, "", 0)
        with self._lock:
            snapshot_id = next(self._ids)
            self._snapshots[snapshot_id] = _Snapshot(revision, items)
            while len(self._snapshots) > _MAX_SNAPSHOTS:
                self._snapshots.popitem(last=False)
        return self._slice(snapshot_id, _Snapshot(revision, items), 0, limit)

    def next_page(self, token: str, limit: int | None, compacted_revision: int) -> Page:
        snapshot_id, start = self._decode(token)
        with self._lock:
            snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None or snapshot.revision < compacted_revision:
            raise expired(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."
            )
        return self._slice(snapshot_id, snapshot, start, limit or len(snapshot.items))

    def _slice(self, snapshot_id: int, snapshot: _Snapshot, start: int, limit: int) -> Page:
        end = start + limit
        remaining = max(len(snapshot.items) - end, 0)
        token = self._encode(snapshot_id, snapshot.revision, end) if remaining else ""
        return Page(snapshot.items[start:end], snapshot.revision, token, remaining)

    @staticmethod
    def _encode(snapshot_id: int, revision: int, start: int) -> str:
        raw = json.dumps({"v": 1, "rv": revision, "id": snapshot_id, "start": start})
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @staticmethod
    def _decode(token: str) -> tuple[int, int]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            return int(data["id"]), int(data["start"])
        except (binascii.Error, ValueError, KeyError, TypeError) as error:
            raise bad_request(f"continue key is not valid: {error}") from error
