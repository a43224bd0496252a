"""The one clock type: what time it is, and sleeping until a moment.

Components that read the time (runner, progress bus, liveness, scheduler, reconciler, lock
manager) take a :class:`Clock` so that tests can control it; production passes
:data:`SYSTEM_CLOCK`. A manual clock for tests lives in ``tests/clock.py``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    async def sleep_until(self, moment: datetime) -> None:
        """Return at or after ``moment``."""
        ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class SystemClock:
    """Wall-clock time; sleeps in steps so that a clock change is noticed within a minute."""

    max_step_s = 60.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime) -> None:
        while True:
            remaining = (moment - self.now()).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, self.max_step_s))


SYSTEM_CLOCK: Clock = SystemClock()
