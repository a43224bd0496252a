"""The daemon thread pool keeps nothing of a call once its caller has the answer."""

from __future__ import annotations

import os
import time
import weakref

import pytest

from assay.server.core.threads import DaemonExecutor, available_cores, cores_within
from tests.collector import no_collection


class Payload:
    """Something large a call returns (a run's inventory)."""


def test_a_result_is_freed_once_the_caller_drops_it_while_the_thread_waits() -> None:
    pool = DaemonExecutor(1, name="test")
    try:
        with no_collection():  # freed by reference counting, not by a collection
            future = pool.submit(Payload)
            result = weakref.ref(future.result(timeout=10))
            del future
            deadline = time.monotonic() + 10
            while pool.busy and time.monotonic() < deadline:  # its bookkeeping after the call
                time.sleep(0.001)
            assert not pool.busy
            assert result() is None, "the idle thread still holds the last result"
    finally:
        pool.shutdown()


@pytest.mark.parametrize(
    ("affinity", "cpu_max", "cores"),
    [
        (8, None, 8),  # no cgroup v2 file
        (8, "max 100000\n", 8),  # no limit
        (8, "200000 100000\n", 2),  # a limit of 2 cores
        (8, "150000 100000\n", 2),  # 1.5 cores: rounded up
        (8, "50000 100000\n", 1),  # half a core: one
        (2, "800000 100000\n", 2),  # a limit above the affinity
        (4, "garbage", 4),
        (4, "100000 0", 4),
    ],
)
def test_cores_within_the_affinity_and_the_cgroup_quota(
    affinity: int, cpu_max: str | None, cores: int
) -> None:
    assert cores_within(affinity, cpu_max) == cores


def test_available_cores_on_this_machine() -> None:
    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))
