"""The daemon thread pool keeps nothing of a call once its caller has the answer."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from assay.server.core.threads import DaemonExecutor


class Payload:
    """Something large a call returns (a run's inventory)."""


@contextmanager
def no_collection() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
