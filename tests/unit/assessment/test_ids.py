"""Run ids sort by time and never repeat; result ids follow the contract's format."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from assay.server.core.ids import (
    RESULT_ID_PATTERN,
    RUN_ID_PATTERN,
    ResultIdFactory,
    RunIdFactory,
    check_token,
    scheduled_run_id,
)

T0 = datetime(2026, 2, 16, 10, 30, 45, tzinfo=UTC)


def test_run_ids_sort_in_creation_order() -> None:
    factory = RunIdFactory()
    moments = [T0 + timedelta(microseconds=37 * i, days=i % 3) for i in range(2000)]
    moments.sort()
    ids = [factory.new(m) for m in moments]
    shuffled = ids[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled) == ids
    assert all(RUN_ID_PATTERN.match(i) for i in ids)


def test_run_ids_stay_increasing_when_the_clock_stands_still_or_steps_back() -> None:
    factory = RunIdFactory()
    ids = [factory.new(T0) for _ in range(1000)] + [factory.new(T0 - timedelta(seconds=5))]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_run_id_shows_its_utc_time() -> None:
    local = T0.astimezone(timezone(timedelta(hours=2)))
    assert RunIdFactory().new(local).startswith("run_20260216T103045_000000_")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        RunIdFactory().new(datetime(2026, 2, 16))


def test_scheduled_run_id_is_deterministic_per_tick_and_cluster() -> None:
    a = scheduled_run_id(T0, cluster_id="prod")
    assert a == scheduled_run_id(T0, cluster_id="prod")
    assert a != scheduled_run_id(T0, cluster_id="staging")
    assert a != scheduled_run_id(T0 + timedelta(hours=1), cluster_id="prod")
    assert RUN_ID_PATTERN.match(a)
    assert a.startswith("run_20260216T103045_000000_")


def test_result_id_format() -> None:
    rid = ResultIdFactory(start=0xA7F3B9).new("SEC-001", T0)
    assert rid == "asm_20260216_103045_sec001_a7f3b9"
    assert RESULT_ID_PATTERN.match(rid)
    assert check_token("PERF-012") == "perf012"


def test_result_ids_of_one_check_in_one_second_do_not_collide() -> None:
    factory = ResultIdFactory()
    ids = set(factory.batch("REL-004", T0, 60_000))
    ids.update(factory.new("REL-004", T0) for _ in range(1000))
    assert len(ids) == 61_000


def test_result_counter_wraps_within_six_hex_digits() -> None:
    factory = ResultIdFactory(start=(1 << 24) - 1)
    assert factory.new("SEC-001", T0).endswith("_ffffff")
    assert factory.new("SEC-001", T0).endswith("_000000")
