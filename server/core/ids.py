"""Identifiers of runs and results.

Run ids sort by time as plain strings and are unique across replicas::

    run_20260216T103045_123456_a7f3b9c2
        UTC second  microsecond  32 random bits

A :class:`RunIdFactory` never hands out a timestamp part smaller than the previous one, so the
ids of one process are strictly increasing even when the clock stands still or steps back.

A scheduled run's id is derived from its cron tick (``scheduled_run_id``): every replica
computes the same id for the same tick, and the unique ``run_id`` of the runs table lets only
one of them create it (see ``scheduler.py``).

Result ids follow the contract ``asm_<yyyymmdd>_<hhmmss>_<checkid>_<6 hex>``, e.g.
``asm_20260216_103045_sec001_a7f3b9``. A check over 50,000 objects makes 50,000 results in the
same second, so the six hex digits cannot be random (the birthday bound would collide within
a few thousand); they are a process-wide counter modulo 2**24 starting at a random offset,
which keeps every id of one process unique up to 16.7 million results per check per second.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import cast

from assay.server.core.types import ResultId, RunId

RUN_ID_PATTERN = re.compile(r"^run_\d{8}T\d{6}_\d{6}_[0-9a-f]{8}$")
RESULT_ID_PATTERN = re.compile(r"^asm_\d{8}_\d{6}_[a-z0-9]+_[0-9a-f]{6}$")

_COUNTER_SPACE = 1 << 24


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("ids need an aware datetime")
    return moment.astimezone(UTC)


def _run_id(moment: datetime, suffix: str) -> RunId:
    return RunId(f"run_{moment:%Y%m%dT%H%M%S}_{moment:%f}_{suffix}")


class RunIdFactory:
    """Makes time-sortable, unique run ids; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: datetime | None = None

    def new(self, now: datetime) -> RunId:
        moment = _utc(now)
        with self._lock:
            if self._last is not None and moment <= self._last:
                moment = self._last + timedelta(microseconds=1)
            self._last = moment
        return _run_id(moment, secrets.token_hex(4))


def scheduled_run_id(tick: datetime, *, cluster_id: str) -> RunId:
    """The run id of a cron tick: the same on every replica, distinct per cluster id."""
    moment = _utc(tick).replace(microsecond=0)
    digest = hashlib.sha256(f"{cluster_id}|{moment.isoformat()}".encode()).hexdigest()
    return _run_id(moment, digest[:8])


def check_token(check_id: str) -> str:
    """``SEC-001`` -> ``sec001``: the check part of a result id."""
    return re.sub(r"[^a-z0-9]", "", check_id.lower())


class ResultIdFactory:
    """Makes result ids in the contract's format; thread-safe."""

    def __init__(self, *, start: int | None = None) -> None:
        self._next = secrets.randbelow(_COUNTER_SPACE) if start is None else start
        self._lock = threading.Lock()

    def new(self, check_id: str, at: datetime) -> ResultId:
        return self.batch(check_id, at, 1)[0]

    def batch(self, check_id: str, at: datetime, count: int) -> list[ResultId]:
        """``count`` distinct ids for results of one check assessed at ``at``."""
        moment = _utc(at)
        with self._lock:
            first = self._next
            self._next = (first + count) % _COUNTER_SPACE
        prefix = f"asm_{moment:%Y%m%d}_{moment:%H%M%S}_{check_token(check_id)}_"
        # cast, not ResultId(...) per id: a NewType call is a Python call, once per result
        return cast(
            list[ResultId], [f"{prefix}{(first + i) % _COUNTER_SPACE:06x}" for i in range(count)]
        )
