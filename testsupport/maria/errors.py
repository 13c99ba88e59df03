"""What can go wrong with MariaDB, by how the run reports it."""

from __future__ import annotations


class MariaDBUnavailable(Exception):
    """No MariaDB can be had; the MariaDB tests are deselected with this reason."""


class MariaDBFailedToStart(Exception):
    """Binaries were found but the server did not start: an error, with the server's log."""


class MariaDBMisconfigured(Exception):
    """TEST_MARIADB_URL is set but unusable; the run stops with this message."""
