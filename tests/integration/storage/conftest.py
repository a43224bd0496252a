"""Storage test fixtures: the backend fixtures of ``backends.py``.

Imported here so these tests run before (and independently of) the root ``pytest_plugins``
registration of ``tests.integration.storage.backends``.
"""

from tests.integration.storage.backends import (
    database_url,
    postgres_test_database,
    repository,
    storage_engine,
)

__all__ = ["database_url", "postgres_test_database", "repository", "storage_engine"]
