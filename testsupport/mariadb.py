"""MariaDB (and MySQL) for the tests: the user's server (``TEST_MARIADB_URL``) or a throwaway one
from the binaries on PATH. Whichever it is, the tests never write to a database they did not
create: each session or xdist worker gets its own, dropped at the end.

This module is the public face; each concern lives in its own module under ``testsupport.maria``
(see its docstring for the map).
"""

from __future__ import annotations

from testsupport.maria.embedded import BINDIR_ENV, embedded_server
from testsupport.maria.errors import MariaDBFailedToStart, MariaDBMisconfigured, MariaDBUnavailable
from testsupport.maria.server import Server
from testsupport.maria.shared import finish_run, run_report
from testsupport.maria.userserver import URL_ENV
from testsupport.maria.workerdb import REQUIRE_ENV, mariadb_database, unavailable

__all__ = [
    "BINDIR_ENV",
    "REQUIRE_ENV",
    "URL_ENV",
    "MariaDBFailedToStart",
    "MariaDBMisconfigured",
    "MariaDBUnavailable",
    "Server",
    "embedded_server",
    "finish_run",
    "mariadb_database",
    "run_report",
    "unavailable",
]
