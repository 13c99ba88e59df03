"""What can go wrong with PostgreSQL, by how the run reports it."""

from __future__ import annotations


class PostgresUnavailable(Exception):
    """No PostgreSQL can be had; the PostgreSQL tests are skipped with this reason."""


class PostgresFailedToStart(Exception):
    """Binaries were found but the server did not start: an error, with the server's log."""


class PostgresMisconfigured(Exception):
    """A setting is unusable (TEST_POSTGRES_URL, a cluster cache others can write); the run
    stops with this message."""
