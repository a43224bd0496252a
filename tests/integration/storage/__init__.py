"""Storage integration tests, run against SQLite and PostgreSQL."""
