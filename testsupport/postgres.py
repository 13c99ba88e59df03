"""PostgreSQL for the tests: the user's server (``TEST_POSTGRES_URL``) or a throwaway one.

Whichever it is, the tests never write to a database they did not create: the run migrates a
template database once (``CREATE DATABASE ... TEMPLATE`` is a file copy, milliseconds) and each
session or xdist worker gets its own clone; all of them are dropped at the end.

This module is the public face; each concern lives in its own module under ``testsupport.pg``
(see its docstring for the map).
"""

from __future__ import annotations

from testsupport.pg.clustercache import CACHE_ENV
from testsupport.pg.embedded import BINDIR_ENV, embedded_server, find_bindir
from testsupport.pg.errors import PostgresFailedToStart, PostgresMisconfigured, PostgresUnavailable
from testsupport.pg.runstate import OWNER_ENV, RUN_ID_ENV, join_run, run_scratch, scratch_root
from testsupport.pg.server import Server
from testsupport.pg.shared import finish_run, leave_run, run_report
from testsupport.pg.template import Migrate
from testsupport.pg.userserver import URL_ENV, external_server
from testsupport.pg.workerdb import REQUIRE_ENV, postgres_database

# What the plugin, the tests and the scripts use; the rest of testsupport.pg is its own business.
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
    "leave_run",
    "postgres_database",
    "run_report",
    "run_scratch",
    "scratch_root",
]
