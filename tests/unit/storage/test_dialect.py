"""Timestamps as the drivers return them, to the epoch and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import timestamp_pb2

from assay.server.storage.dialect import epoch, from_driver_timestamp, sqlite_timestamp

MOMENTS = [
    datetime(2026, 2, 16, 10, 30, 45, 123456, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 2, 16, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_epoch_matches_protobuf_for_both_driver_forms(moment: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment.astimezone(UTC))

    for stored in (moment, sqlite_timestamp(moment)):
        assert epoch(stored) == (expected.seconds, expected.nanos)
        assert from_driver_timestamp(stored) == moment


def test_sqlite_text_sorts_as_time() -> None:
    texts = [sqlite_timestamp(m) for m in MOMENTS]
    assert sorted(texts) == [sqlite_timestamp(m) for m in sorted(MOMENTS)]
