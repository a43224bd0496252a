"""The collector's pace during runs: counted across overlapping runs, and restored once
the last run has left, whatever happened in it."""

from __future__ import annotations

import gc

import pytest

from assay.server.assessment.heap import RUN_THRESHOLDS, RunHeap


def test_overlapping_runs_raise_the_thresholds_until_the_last_one_leaves() -> None:
    heap = RunHeap()
    before = gc.get_threshold()
    with heap.running():
        assert gc.get_threshold() == RUN_THRESHOLDS
        with heap.running():  # a second run starts and ends inside the first
            assert heap.active == 2
        assert heap.active == 1
        assert gc.get_threshold() == RUN_THRESHOLDS, "the first run is still going"
    assert heap.active == 0
    assert gc.get_threshold() == before


def test_a_run_that_raises_still_restores_the_thresholds() -> None:
    heap = RunHeap()
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), heap.running():
        raise RuntimeError("check crashed")
    assert heap.active == 0
    assert gc.get_threshold() == before


def test_thresholds_changed_between_runs_are_the_ones_restored() -> None:
    heap = RunHeap()
    original = gc.get_threshold()
    try:
        gc.set_threshold(1000, 15, 15)
        with heap.running():
            pass
        assert gc.get_threshold() == (1000, 15, 15)
    finally:
        gc.set_threshold(*original)
