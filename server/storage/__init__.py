"""Persistence layer: SQLAlchemy models, alembic migrations, the Repository and its async sink.

Typical wiring in the composition root::

    engine = create_engine_from_url(settings.database_url or default_database_url())
    migrate(engine)
    repository = Repository(engine)
    sink = StorageSink(repository)   # RunSink for the runner, AuditSink for the reconciler

Execution code never imports this package (docs/design.md, "Layers"); it writes through the sink.
"""

from assay.server.storage.engine import (
    create_engine_from_url,
    default_database_url,
    migrate,
)
from assay.server.storage.repository import Repository
from assay.server.storage.sink import StorageSink

__all__ = [
    "Repository",
    "StorageSink",
    "create_engine_from_url",
    "default_database_url",
    "migrate",
]
