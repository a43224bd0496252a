"""The interpreter's pace during runs (collector thresholds, switch interval): counted
across overlapping runs, and restored once the last run has left, whatever happened in it."""

from __future__ import annotations

import gc
import sys

import pytest

from assay.server.assessment.pace import RUN_SWITCH_INTERVAL_S, RUN_THRESHOLDS, RunPace


def test_overlapping_runs_keep_the_run_pace_until_the_last_one_leaves() -> None:
    pace = RunPace()
    before = gc.get_threshold(), sys.getswitchinterval()
    with pace.running():
        assert (gc.get_threshold(), sys.getswitchinterval()) == (
            RUN_THRESHOLDS,
            RUN_SWITCH_INTERVAL_S,
        )
        with pace.running():  # a second run starts and ends inside the first
            assert pace.active == 2
        assert pace.active == 1
        assert gc.get_threshold() == RUN_THRESHOLDS, "the first run is still going"
        assert sys.getswitchinterval() == RUN_SWITCH_INTERVAL_S
    assert pace.active == 0
    assert (gc.get_threshold(), sys.getswitchinterval()) == before


def test_a_run_that_raises_still_restores_the_thresholds() -> None:
    pace = RunPace()
    before = gc.get_threshold(), sys.getswitchinterval()
    with pytest.raises(RuntimeError), pace.running():
        raise RuntimeError("check crashed")
    assert pace.active == 0
    assert (gc.get_threshold(), sys.getswitchinterval()) == before


def test_settings_changed_between_runs_are_the_ones_restored() -> None:
    pace = RunPace()
    original = gc.get_threshold(), sys.getswitchinterval()
    try:
        gc.set_threshold(1000, 15, 15)
        sys.setswitchinterval(0.002)
        with pace.running():
            pass
        assert (gc.get_threshold(), sys.getswitchinterval()) == ((1000, 15, 15), 0.002)
    finally:
        gc.set_threshold(*original[0])
        sys.setswitchinterval(original[1])
