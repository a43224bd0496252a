"""A manual clock for tests: the one :class:`~assay.server.core.clock.Clock` they pass in.

Time moves only when the test says so (``set``, ``advance``, ``advance_to``); tasks asleep in
``sleep_until`` wake when it passes their moment, and ``all_asleep`` waits until the expected
number of sleepers are back asleep, so schedulers are driven without wall-clock waits.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class ManualClock:
    def __init__(self, now: datetime | None = None) -> None:
        self._now = now or datetime.now(UTC)
        self._moved = asyncio.Event()
        self._fell_asleep = asyncio.Event()
        self.sleeping: dict[int, datetime] = {}

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` without waking sleepers (for code that only reads the time)."""
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    @property
    def sleeping_until(self) -> datetime | None:
        return min(self.sleeping.values(), default=None)

    async def sleep_until(self, moment: datetime) -> None:
        key = id(asyncio.current_task())
        try:
            while self._now < moment:
                self.sleeping[key] = moment
                self._fell_asleep.set()
                await self._moved.wait()
        finally:
            self.sleeping.pop(key, None)

    async def all_asleep(self, sleepers: int = 1) -> None:
        """Wait until ``sleepers`` tasks are blocked in sleep_until."""
        while len(self.sleeping) < sleepers:
            self._fell_asleep.clear()
            await self._fell_asleep.wait()

    async def advance_to(self, moment: datetime, *, sleepers: int = 1) -> None:
        """Move time on, then wait until every sleeper has gone back to sleep."""
        self._now = moment
        moved, self._moved = self._moved, asyncio.Event()
        due = [key for key, until in self.sleeping.items() if until <= moment]
        for key in due:
            del self.sleeping[key]
        moved.set()
        await self.all_asleep(sleepers)
