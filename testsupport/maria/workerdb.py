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
    try:
        server, info = shared_server()
        name = f"test_{run_id()}_{worker()}{suffix}"
        url = server.create_database(name, comment=owner_comment() if info.get("external") else "")
    except MariaDBUnavailable as exc:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set and there is {exc}", pytrace=False)
        pytest.skip(f"MariaDB tests skipped: {exc}")
    except MariaDBFailedToStart as exc:
        pytest.fail(str(exc), pytrace=False)
    except MariaDBMisconfigured as exc:
        if worker() == "main":
            pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
        # In an xdist worker, as PostgreSQL's (pg.workerdb): pytest.exit would crash the worker and
        # lose the message; stopping the session ends the run with it.
        if session is not None:
            session.shouldstop = str(exc)
        pytest.fail(str(exc), pytrace=False)
    try:
        yield SecretURL(url)  # its repr, which pytest prints, hides the password
    finally:
        ignore_errors(lambda: server.drop_database(name))
