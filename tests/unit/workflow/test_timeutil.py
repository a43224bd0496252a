"""Go durations and API timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assay.server.kube.times import format_time, parse_time
from assay.server.workflow.timeutil import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("1h30m", 5400), ("1.5h", 5400), ("500ms", 0.5), ("2m3s", 123)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "1d", "-5s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (61, "1m1s"), (3600, "1h0m0s"), (3723, "1h2m3s"), (-5, "0s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


def test_time_round_trip() -> None:
    moment = datetime(2026, 2, 16, 10, 30, 45, tzinfo=UTC)
    assert format_time(moment) == "2026-02-16T10:30:45Z"
    assert parse_time("2026-02-16T10:30:45Z") == moment
    assert parse_time("2026-02-16T10:30:45.123456Z") == moment.replace(microsecond=123456)
    assert parse_time("garbage") is None
    assert parse_time(None) is None
