"""Each session's (xdist worker's) own database: a clone of the run's template, or empty."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from testsupport.pg.errors import PostgresFailedToStart, PostgresMisconfigured, PostgresUnavailable
from testsupport.pg.runstate import ignore_errors, run_id, worker
from testsupport.pg.shared import shared_server
from testsupport.pg.template import Migrate, migrated_template
from testsupport.pg.userserver import owner_comment
from testsupport.redact import SecretURL
from testsupport.serverrun.workerdb import no_database_ends_the_test

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
