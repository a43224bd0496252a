"""Retrying a failed list or watch: backoff that ends as soon as the API server is back.

The informer (``informer.py``) keeps one :class:`WatchBackoff`: after each failed list or
watch it calls :meth:`~WatchBackoff.failed`, then awaits :meth:`~WatchBackoff.wait`. The
delay grows exponentially with the failures in a row (:class:`BackoffSettings`), so a
server that keeps refusing one request is not hammered, and honours a ``Retry-After`` the
server sent. When the failure may pass by itself (no connection, a reset, a time-out, a
5xx, a 429), the wait also asks the server's health every ``probe_interval_s``
(:class:`ServerProbe`, ``GET /readyz``, a request that reads nothing from etcd) and ends at
the first probe that finds the server answering after a probe found it down. The watch
then resumes within about one probe interval of the server's return instead of up to
``max_s`` later, and the streak starts again from the first delay.

Only a probe that saw the server down can end a wait early. When ``/readyz`` answers
throughout (the server is up and one resource fails, say an aggregated API behind a 503),
the ordinary backoff applies, so a healthy server is never retried in a tight loop. The
"down" a probe saw holds for the whole streak: a server that returns between a failed
retry and the next wait's first probe still ends that wait at once, and if a retry finds
the server back before any probe does, :meth:`~WatchBackoff.succeeded` reports that as
the recovery. Either way the informer learns of each recovery once (``on_recovered``).

Time is read and slept through a :class:`~assay.server.core.clock.Clock`, so tests drive
the schedule with a manual clock.
"""

from __future__ import annotations

import enum
import logging
import random
from datetime import timedelta
from typing import Protocol

from assay.server.core.clock import SYSTEM_CLOCK, Clock
from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeApiError, KubeError
from assay.server.kube.settings import BackoffSettings

log = logging.getLogger(__name__)

READYZ = "/readyz"


class HealthProbe(Protocol):
    async def answers(self) -> bool:
        """True when the API server answers; False when it is down or unreachable."""
        ...


class ServerProbe:
    """``GET /readyz`` through the server's client, answered within ``timeout_s``.

    The server answers when it says it is ready (2xx), and also when it refuses the probe
    itself (401, 403, 404: a cluster that does not open ``/readyz`` to this client is still
    up; the list or watch will tell the rest). A 5xx, a 429 or no answer at all is down.
    """

    def __init__(self, kube: KubeClient, *, timeout_s: float = 5.0, path: str = READYZ) -> None:
        self._kube = kube
        self._timeout_s = timeout_s
        self._path = path
        self.probes = 0

    async def answers(self) -> bool:
        self.probes += 1
        try:
            status = await self._kube.ping(self._path, timeout_s=self._timeout_s)
        except KubeError as exc:
            log.debug("API server health probe: %s", exc)
            return False
        return status < 500 and status != 429


class WaitEnd(enum.StrEnum):
    ELAPSED = "elapsed"  # the whole delay passed
    RECOVERED = "recovered"  # the server answers again after an outage: retry now


def retry_after_s(error: KubeError) -> float | None:
    """``retryAfterSeconds`` of the server's Status (sent with 429 and some 5xx), if any."""
    if not isinstance(error, KubeApiError):
        return None
    value = error.details.get("retryAfterSeconds")
    return float(value) if isinstance(value, int | float) and value > 0 else None


class WatchBackoff:
    """The retry schedule of one list/watch loop; see the module docstring."""

    def __init__(
        self,
        backoff: BackoffSettings,
        *,
        probe: HealthProbe | None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self._backoff = backoff
        self._probe = probe
        self._clock = clock
        self._rng = rng or random.Random()
        self._down = False  # a probe found the server down during this streak
        self._probing = False  # the last failure is one the server may get over
        self.failures = 0  # in a row
        self.delay_s = 0.0  # of the last failure
        self.recoveries = 0

    def succeeded(self) -> bool:
        """The list or watch made progress: the next failure starts a new streak.

        True when a probe of the streak had found the server down and no probe saw it come
        back (the retry got there first): that is a recovery too, counted here.
        """
        recovered = self._down
        self.failures = 0
        self._down = False
        if recovered:
            self.recoveries += 1
        return recovered

    def failed(self, error: KubeError) -> float:
        """Count a failure; returns the delay :meth:`wait` will wait at most."""
        self.failures += 1
        delay = self._backoff.delay(self.failures, self._rng)
        asked = retry_after_s(error)
        if asked is not None:
            delay = max(delay, min(asked, self._backoff.max_s))
        self.delay_s = delay
        self._probing = self._probe is not None and error.retryable
        return delay

    async def wait(self) -> WaitEnd:
        """Wait out the delay of the last failure, or less if the server comes back.

        While probing, the server is probed at the start, after every interval, and at
        the end of the delay, so a retry is rarely the first to find the server back.
        """
        deadline = self._clock.now() + timedelta(seconds=self.delay_s)
        probe = self._probe
        if probe is None or not self._probing:
            await self._clock.sleep_until(deadline)
            return WaitEnd.ELAPSED
        step = timedelta(seconds=self._backoff.probe_interval_s)
        while True:
            if await self._back(probe):
                self.succeeded()
                return WaitEnd.RECOVERED
            now = self._clock.now()
            if now >= deadline:
                return WaitEnd.ELAPSED
            await self._clock.sleep_until(min(deadline, now + step))

    async def _back(self, probe: HealthProbe) -> bool:
        """Probe once: True when the server answers after a probe of this streak saw it down."""
        if await probe.answers():
            return self._down
        self._down = True
        return False
