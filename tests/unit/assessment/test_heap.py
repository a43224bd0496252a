"""The run's heap frozen out of the collector: counted across overlapping runs, and nothing
left frozen or re-tuned once the last run has left."""

from __future__ import annotations

import gc
import weakref

from assay.server.assessment.heap import RUN_THRESHOLDS, FrozenHeap


def test_overlapping_runs_freeze_once_and_the_last_one_out_unfreezes() -> None:
    heap = FrozenHeap()
    before = gc.get_threshold()
    inventory = [{"kind": "Pod", "metadata": {"name": f"p{i}"}} for i in range(1000)]
    with heap.frozen():
        assert gc.get_freeze_count() >= len(inventory)
        assert gc.get_threshold() == RUN_THRESHOLDS
        with heap.frozen():  # a second run starts and ends inside the first
            assert heap.active == 2
        assert heap.active == 1
        assert gc.get_freeze_count() > 0, "the first run's inventory stays frozen"
        assert gc.get_threshold() == RUN_THRESHOLDS
    assert heap.active == 0
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_run_that_raises_still_unfreezes() -> None:
    heap = FrozenHeap()
    before = gc.get_threshold()
    try:
        with heap.frozen():
            raise RuntimeError("check crashed")
    except RuntimeError:
        pass
    assert heap.active == 0
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_cycle_frozen_with_a_run_is_collected_once_the_run_ends() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    heap = FrozenHeap()
    first, second = Node(), Node()
    first.other, second.other = second, first
    alive = weakref.ref(first)
    with heap.frozen():
        del first, second
        gc.collect()
        assert alive() is not None, "frozen: the collector leaves it alone during the run"
    assert alive() is None, "collected as the last run leaves, not left for the next to freeze"
