"""The list/watch retry schedule: delays, probing, and the early end of a wait on recovery.

Time is a manual clock the test moves to each sleep's end; the probe is scripted. So every
assertion is on the sequence of sleeps and probes, never on how long anything took.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from assay.server.kube.errors import (
    KubeError,
    KubeForbidden,
    KubeServerError,
    KubeTooManyRequests,
    KubeTransportError,
)
from assay.server.kube.recovery import WaitEnd, WatchBackoff, retry_after_s
from assay.server.kube.settings import BackoffSettings
from assay.server.settings import SettingsError, load_settings
from tests.clock import ManualClock

T = TypeVar("T")

PRODUCTION = BackoffSettings()
RESET = KubeTransportError("GET /apis/x: ServerDisconnectedError")
UNAVAILABLE = KubeServerError(503, reason="ServiceUnavailable", message="no endpoints")
FORBIDDEN = KubeForbidden(403, reason="Forbidden", message="no list on x")


class ScriptedProbe:
    """Answers as scripted (the last answer repeats) and notes the clock at each probe."""

    def __init__(self, clock: ManualClock, answers: list[bool]) -> None:
        self._clock = clock
        self._answers = answers
        self.at: list[float] = []
        self._start = clock.now()

    async def answers(self) -> bool:
        self.at.append((self._clock.now() - self._start).total_seconds())
        index = min(len(self.at), len(self._answers)) - 1
        return self._answers[index]


async def drive(clock: ManualClock, coro: Coroutine[Any, Any, T]) -> tuple[T, list[float]]:
    """Run ``coro``, moving the clock to the end of each sleep it starts; the sleeps."""
    task = asyncio.ensure_future(coro)
    slept: list[float] = []
    while True:
        asleep = asyncio.ensure_future(clock.all_asleep(1))
        done, _ = await asyncio.wait({task, asleep}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            asleep.cancel()
            return task.result(), slept
        until = clock.sleeping_until
        assert until is not None
        slept.append(round((until - clock.now()).total_seconds(), 6))
        await clock.advance_to(until, sleepers=0)


def test_the_delays_grow_to_the_cap_half_fixed_half_jittered() -> None:
    rng = random.Random(1)
    bases = [min(30.0, 0.2 * 2 ** (n - 1)) for n in range(1, 12)]
    delays = [PRODUCTION.delay(n, rng) for n in range(1, 12)]
    assert bases[-3:] == [30.0, 30.0, 30.0]
    for base, delay in zip(bases, delays, strict=True):
        assert base / 2 <= delay <= base


def test_a_failure_counts_and_a_success_starts_a_new_streak() -> None:
    backoff = WatchBackoff(
        BackoffSettings(initial_s=1, max_s=8, factor=2), probe=None, rng=random.Random(0)
    )
    first = [backoff.failed(RESET) for _ in range(5)]
    assert backoff.failures == 5
    assert 0.5 <= first[0] <= 1 and 1 <= first[1] <= 2 and 4 <= first[4] <= 8
    backoff.succeeded()
    assert backoff.failures == 0
    assert 0.5 <= backoff.failed(RESET) <= 1


@pytest.mark.parametrize(
    ("error", "asked"),
    [
        (KubeTooManyRequests(429, details={"retryAfterSeconds": 7}), 7.0),
        (KubeServerError(503, details={"retryAfterSeconds": 3}), 3.0),
        (KubeServerError(503, details={"retryAfterSeconds": "soon"}), None),
        (RESET, None),
    ],
)
def test_retry_after_is_read_from_the_status(error: KubeError, asked: float | None) -> None:
    assert retry_after_s(error) == asked


def test_a_retry_after_lengthens_the_delay_up_to_the_cap() -> None:
    backoff = WatchBackoff(BackoffSettings(initial_s=0.2, max_s=10), probe=None)
    assert backoff.failed(KubeTooManyRequests(429, details={"retryAfterSeconds": 7})) == 7.0
    assert backoff.failed(KubeTooManyRequests(429, details={"retryAfterSeconds": 60})) == 10.0


async def test_an_error_the_server_will_not_get_over_is_waited_out_without_probing() -> None:
    clock = ManualClock()
    probe = ScriptedProbe(clock, [True])
    backoff = WatchBackoff(PRODUCTION, probe=probe, clock=clock, rng=random.Random(3))
    delay = backoff.failed(FORBIDDEN)
    end, slept = await drive(clock, backoff.wait())
    assert end is WaitEnd.ELAPSED
    assert slept == [pytest.approx(delay, abs=1e-5)]
    assert probe.at == []


async def test_a_server_answering_health_throughout_gets_the_whole_delay() -> None:
    # One resource fails with 503 while /readyz is fine: no early retry, so no tight loop.
    clock = ManualClock()
    probe = ScriptedProbe(clock, [True])
    settings = BackoffSettings(initial_s=4, max_s=4, probe_interval_s=1)
    backoff = WatchBackoff(settings, probe=probe, clock=clock, rng=random.Random(3))
    delay = backoff.failed(UNAVAILABLE)
    end, slept = await drive(clock, backoff.wait())
    assert end is WaitEnd.ELAPSED
    assert sum(slept) == pytest.approx(delay, abs=1e-5)  # datetimes hold microseconds
    assert slept[:-1] == [1.0] * (len(slept) - 1)  # probing once a second meanwhile
    assert len(probe.at) == len(slept) + 1  # and once more at the end
    assert backoff.recoveries == 0


async def test_the_wait_ends_at_the_first_probe_that_finds_the_server_back() -> None:
    clock = ManualClock()
    probe = ScriptedProbe(clock, [False, False, False, True])
    backoff = WatchBackoff(PRODUCTION, probe=probe, clock=clock, rng=random.Random(3))
    for _ in range(9):  # a long outage: the backoff is at its cap of 15-30 s
        backoff.failed(RESET)
    assert backoff.delay_s >= 15
    end, slept = await drive(clock, backoff.wait())
    assert end is WaitEnd.RECOVERED
    assert slept == [1.0, 1.0, 1.0]  # three probe intervals, not the 15-30 s delay
    assert probe.at == [0.0, 1.0, 2.0, 3.0]
    assert (backoff.failures, backoff.recoveries) == (0, 1)
    assert backoff.failed(RESET) <= PRODUCTION.initial_s  # a new streak


async def test_a_server_back_before_the_next_wait_ends_it_at_once() -> None:
    # The probes of one wait saw the server down, to its end; the retry after it failed,
    # and by the next wait's first probe the server was back: that wait ends at once.
    clock = ManualClock()
    probe = ScriptedProbe(clock, [False, False, False, True])
    settings = BackoffSettings(initial_s=2, max_s=30, probe_interval_s=1)
    backoff = WatchBackoff(settings, probe=probe, clock=clock, rng=random.Random(5))
    delay = backoff.failed(RESET)
    first, slept_first = await drive(clock, backoff.wait())
    assert first is WaitEnd.ELAPSED
    assert slept_first == [1.0, pytest.approx(delay - 1, abs=1e-5)]
    assert probe.at == [0.0, 1.0, pytest.approx(delay, abs=1e-5)]
    backoff.failed(RESET)
    second, slept_second = await drive(clock, backoff.wait())
    assert second is WaitEnd.RECOVERED
    assert slept_second == []


def test_a_retry_that_finds_the_server_back_first_is_a_recovery_too() -> None:
    backoff = WatchBackoff(PRODUCTION, probe=None)
    backoff.failed(RESET)
    assert backoff.succeeded() is False  # no probe saw the server down: a plain success
    assert backoff.recoveries == 0


async def test_the_down_a_probe_saw_makes_the_next_success_a_recovery() -> None:
    clock = ManualClock()
    probe = ScriptedProbe(clock, [False])
    settings = BackoffSettings(initial_s=1, max_s=1, probe_interval_s=1)
    backoff = WatchBackoff(settings, probe=probe, clock=clock, rng=random.Random(1))
    backoff.failed(RESET)
    assert (await drive(clock, backoff.wait()))[0] is WaitEnd.ELAPSED
    assert backoff.succeeded() is True and backoff.recoveries == 1
    assert backoff.succeeded() is False and backoff.recoveries == 1


async def test_without_a_probe_the_delay_is_slept_whole() -> None:
    clock = ManualClock()
    backoff = WatchBackoff(PRODUCTION, probe=None, clock=clock, rng=random.Random(2))
    delay = backoff.failed(RESET)
    end, slept = await drive(clock, backoff.wait())
    assert end is WaitEnd.ELAPSED and slept == [pytest.approx(delay, abs=1e-5)]


def test_the_probe_interval_is_a_setting_of_the_workflow_backoff() -> None:
    loaded = load_settings({"ASSAY_WORKFLOW_BACKOFF_PROBE_INTERVAL": "0.25"})
    assert loaded.workflow.backoff.probe_interval_s == 0.25
    assert load_settings({}).workflow.backoff.probe_interval_s == 1.0
    with pytest.raises(SettingsError, match="ASSAY_WORKFLOW_BACKOFF_PROBE_INTERVAL"):
        load_settings({"ASSAY_WORKFLOW_BACKOFF_PROBE_INTERVAL": "0"})
