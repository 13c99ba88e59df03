"""Each session's (xdist worker's) own MariaDB database, created empty (the ``schema`` fixture
migrates it) and dropped at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from testsupport.maria.embedded import find_binaries
from testsupport.maria.errors import MariaDBFailedToStart, MariaDBMisconfigured, MariaDBUnavailable
from testsupport.maria.shared import shared_server
from testsupport.maria.userserver import URL_ENV, owner_comment
from testsupport.pg.runstate import ignore_errors, run_id, worker
from testsupport.redact import SecretURL
from testsupport.serverrun.workerdb import no_database_ends_the_test

REQUIRE_ENV = "TESTSUPPORT_REQUIRE_MARIADB"  # CI: a missing MariaDB is an error, not a deselection


def unavailable() -> str | None:
    """Why this run cannot have a MariaDB (no URL, no binaries), or None; checked at collection,
    without starting anything."""
    if os.environ.get(URL_ENV):
        return None
    try:
        find_binaries()
    except MariaDBUnavailable as exc:
        return str(exc)
    return None


@contextmanager
def mariadb_database(suffix: str = "", session: pytest.Session | None = None) -> Iterator[str]:
    """An empty database of this session's own on the run's server. A test of the target itself is
    deselected at collection when there is no MariaDB; another test asking for it (the pitfalls)
    skips, naming the fix, or fails where MariaDB is required."""
    __tracebackhide__ = True
    with no_database_ends_the_test(
        "MariaDB", REQUIRE_ENV, session, MariaDBUnavailable, MariaDBFailedToStart, MariaDBMisconfigured, "there is "
    ):
        server, info = shared_server()
        name = f"test_{run_id()}_{worker()}{suffix}"
        url = server.create_database(name, comment=owner_comment() if info.get("external") else "")
    try:
        yield SecretURL(url)  # its repr, which pytest prints, hides the password
    finally:
        ignore_errors(lambda: server.drop_database(name))
