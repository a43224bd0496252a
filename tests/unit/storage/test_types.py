"""UTCDateTime: aware UTC in, aware UTC out, whatever the backend does with time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from assay.server.storage.models import UTCDateTime

SQLITE = sqlite.dialect()
POSTGRES = postgresql.dialect()  # type: ignore[no-untyped-call]
NOON_UTC = datetime(2026, 2, 16, 12, 0, 0, 250, tzinfo=UTC)
TWO_PM_PLUS_TWO = NOON_UTC.astimezone(timezone(timedelta(hours=2)))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2026, 2, 16, 12), SQLITE)


def test_sqlite_stores_naive_utc_so_text_order_is_time_order() -> None:
    bound = UTCDateTime().process_bind_param(TWO_PM_PLUS_TWO, SQLITE)

    assert bound == NOON_UTC.replace(tzinfo=None)


def test_postgres_receives_the_instant_in_utc() -> None:
    bound = UTCDateTime().process_bind_param(TWO_PM_PLUS_TWO, POSTGRES)

    assert bound == NOON_UTC
    assert bound is not None and bound.tzinfo is UTC


@pytest.mark.parametrize(
    "loaded", [NOON_UTC.replace(tzinfo=None), TWO_PM_PLUS_TWO], ids=["sqlite", "postgresql"]
)
def test_loaded_values_are_aware_utc(loaded: datetime) -> None:
    value = UTCDateTime().process_result_value(loaded, SQLITE)

    assert value == NOON_UTC
    assert value is not None and value.tzinfo is UTC


def test_null_passes_through() -> None:
    assert UTCDateTime().process_bind_param(None, SQLITE) is None
    assert UTCDateTime().process_result_value(None, POSTGRES) is None
