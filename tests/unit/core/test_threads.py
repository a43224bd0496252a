"""The daemon thread pool keeps nothing of a call once its caller has the answer."""

from __future__ import annotations

import time
import weakref

from assay.server.core.threads import DaemonExecutor
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
