"""Storage unit tests (no database server)."""
