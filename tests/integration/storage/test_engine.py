"""Engine set-up on a real SQLite file: directory creation and per-connection pragmas."""

from __future__ import annotations

from pathlib import Path

from assay.server.storage.engine import SQLITE_BUSY_TIMEOUT_MS, create_engine_from_url


def test_sqlite_engine_creates_the_directory_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "assay.db"
    engine = create_engine_from_url(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
    finally:
        engine.dispose()

    assert path.is_file()
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "foreign_keys": 1,
        "synchronous": 1,  # NORMAL
    }


def test_sqlite_transactions_see_one_snapshot(tmp_path: Path) -> None:
    # The sqlite3 module would run SELECTs outside any transaction; the engine's own BEGIN
    # keeps a reader's view stable while another connection commits a write.
    engine = create_engine_from_url(f"sqlite:///{tmp_path / 'assay.db'}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        with engine.connect() as reader, reader.begin():
            assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
            with engine.begin() as writer:
                writer.exec_driver_sql("INSERT INTO t VALUES (1)")
            assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    finally:
        engine.dispose()
