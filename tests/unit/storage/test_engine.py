"""Database URL handling and the default database location."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import platformdirs
import pytest

from assay.server.storage.engine import (
    POSTGRES_CONNECT_TIMEOUT_S,
    BoundedConnection,
    create_engine_from_url,
    default_database_url,
    normalize_url,
)


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@db:5432/assay", "postgresql+psycopg"),
        ("postgres://u@db/assay", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db/assay", "postgresql+psycopg"),
        ("sqlite:////var/lib/assay/assay.db", "sqlite"),
    ],
)
def test_urls_are_pointed_at_psycopg(given: str, driver: str) -> None:
    url = normalize_url(given)

    assert url.drivername == driver
    assert url.database in ("assay", "/var/lib/assay/assay.db")


def test_other_databases_are_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        normalize_url("mysql://u@db/assay")


def test_default_database_is_a_sqlite_file_in_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app: str(tmp_path / app))

    assert default_database_url() == f"sqlite:///{tmp_path / 'assay' / 'assay.db'}"


class _Captured(Exception):
    pass


def _connect_params(url: str, **options: Any) -> dict[str, Any]:
    """The keyword arguments the engine would hand psycopg (nothing connects)."""
    engine = create_engine_from_url(url, **options)
    seen: dict[str, Any] = {}

    def capture(cls: type, *_args: Any, **params: Any) -> None:
        seen.update(params)
        raise _Captured

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BoundedConnection, "connect", classmethod(capture))
        try:
            with pytest.raises(_Captured):
                engine.connect()
        finally:
            engine.dispose()
    return seen


def test_postgres_engine_gets_a_connect_timeout_unless_the_url_sets_one() -> None:
    assert _connect_params("postgresql://u@db/assay")["connect_timeout"] == (
        POSTGRES_CONNECT_TIMEOUT_S
    )
    assert _connect_params("postgresql://u@db/assay?connect_timeout=3")["connect_timeout"] == "3"


def test_postgres_connections_get_keepalives_and_a_statement_timeout() -> None:
    params = _connect_params("postgresql://u@db/assay?options=-csearch_path%3Dx")
    assert params["keepalives"] == 1
    assert params["keepalives_idle"] == 30
    # The URL's own options are kept, the statement timeout appended (milliseconds).
    assert params["options"] == "-csearch_path=x -c statement_timeout=30000"
    params = _connect_params("postgresql://u@db/assay", statement_timeout_s=1.5)
    assert params["options"] == "-c statement_timeout=1500"
