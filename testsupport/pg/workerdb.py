"""Each session's (xdist worker's) own database: a clone of the run's template, or empty."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from testsupport.pg.errors import PostgresFailedToStart, PostgresMisconfigured, PostgresUnavailable
from testsupport.pg.runstate import ignore_errors, run_id, worker
from testsupport.pg.shared import shared_server
from testsupport.pg.template import Migrate, migrated_template
from testsupport.pg.userserver import owner_comment
from testsupport.redact import SecretURL

REQUIRE_ENV = "TESTSUPPORT_REQUIRE_POSTGRES"  # CI: a missing PostgreSQL fails instead of skipping


def worker_database_name(suffix: str = "") -> str:
    return f"test_{run_id()}_{worker()}{suffix}"


@contextmanager
def postgres_database(
    migrate: Migrate | None, suffix: str = "", fingerprint: str = "", session: pytest.Session | None = None
) -> Iterator[str]:
    """A database of this session's own: a clone of the migrated template, or empty when
    ``migrate`` is None. Skips (no binaries) or stops the run (bad TEST_POSTGRES_URL) with a
    message that names the fix."""
    __tracebackhide__ = True
    with no_database_ends_the_test(
        "PostgreSQL", REQUIRE_ENV, session, PostgresUnavailable, PostgresFailedToStart, PostgresMisconfigured
    ):
        server, info = shared_server()
        template = migrated_template(server, migrate, fingerprint) if migrate is not None else None
        name = worker_database_name(suffix)
        then = (owner_comment(server, name),) if info.get("external") else ()
        url = server.create_database(name, template, then=then)
    try:
        yield SecretURL(url)  # its repr, which pytest prints, hides the password
    finally:
        ignore_errors(lambda: server.drop_database(name))


@contextmanager
def no_database_ends_the_test(
    target: str,
    require_env: str,
    session: pytest.Session | None,
    unavailable: type[Exception],
    failed: type[Exception],
    misconfigured: type[Exception],
    unavailable_prefix: str = "",
) -> Iterator[None]:
    """How a request for a server's database ends when there is none, for every server target
    (PostgreSQL here, MariaDB in maria.workerdb): no server skips naming the fix (fails where
    ``require_env`` is set), a server that failed to start fails, a wrong configuration stops the run."""
    __tracebackhide__ = True
    try:
        yield
    except unavailable as exc:
        if os.environ.get(require_env):
            pytest.fail(f"{require_env} is set and {unavailable_prefix}{exc}", pytrace=False)
        pytest.skip(f"{target} tests skipped: {exc}")
    except failed as exc:
        pytest.fail(str(exc), pytrace=False)
    except misconfigured as exc:
        if worker() == "main":
            pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
        # pytest.exit in an xdist worker is a crash to the controller (an INTERNALERROR that loses
        # the message). A worker stops instead: this test errors with the message, and xdist ends
        # the run with it ("Interrupted: ..."), as for -x (xdist's dsession.worker_workerfinished).
        if session is not None:
            session.shouldstop = str(exc)
        pytest.fail(str(exc), pytrace=False)
