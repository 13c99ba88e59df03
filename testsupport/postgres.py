"""PostgreSQL for the tests: the user's server (``TEST_POSTGRES_URL``) or a throwaway one.

Whichever it is, the tests never write to a database they did not create: the run migrates a
template database once (``CREATE DATABASE ... TEMPLATE`` is a file copy, milliseconds) and each
session or xdist worker gets its own clone; all of them are dropped at the end.

This module is the public face; each concern lives in its own module under ``testsupport.pg``
(see its docstring for the map).
"""

from __future__ import annotations

from testsupport.pg.clustercache import CACHE_ENV
from testsupport.pg.embedded import BINDIR_ENV, embedded_server, find_bindir, scratch_root, start_embedded
from testsupport.pg.errors import PostgresFailedToStart, PostgresMisconfigured, PostgresUnavailable
from testsupport.pg.runstate import OWNER_ENV, RUN_ID_ENV, join_run, run_id, run_lock, run_state_dir
from testsupport.pg.server import Server, shown
from testsupport.pg.shared import finish_run, leave_run, run_report, shared_server
from testsupport.pg.template import Migrate, kept_template_name, migrated_template
from testsupport.pg.userserver import URL_ENV, external_server
from testsupport.pg.workerdb import REQUIRE_ENV, postgres_database, worker_database_name

__all__ = [
    "BINDIR_ENV",
    "CACHE_ENV",
    "OWNER_ENV",
    "REQUIRE_ENV",
    "RUN_ID_ENV",
    "URL_ENV",
    "Migrate",
    "PostgresFailedToStart",
    "PostgresMisconfigured",
    "PostgresUnavailable",
    "Server",
    "embedded_server",
    "external_server",
    "find_bindir",
    "finish_run",
    "join_run",
    "kept_template_name",
    "leave_run",
    "migrated_template",
    "postgres_database",
    "run_id",
    "run_lock",
    "run_report",
    "run_state_dir",
    "scratch_root",
    "shared_server",
    "shown",
    "start_embedded",
    "worker_database_name",
]
