"""A SQLite repository per test: these tests are about the edge, not the storage backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.server.storage.engine import create_engine_from_url, migrate
from assay.server.storage.repository import Repository


@pytest.fixture
def sqlite_repository(tmp_path: Path) -> Iterator[Repository]:
    engine = create_engine_from_url(f"sqlite:///{tmp_path / 'assay.db'}")
    migrate(engine)
    try:
        yield Repository(engine)
    finally:
        engine.dispose()
