"""On the user's server (TEST_POSTGRES_URL) a run's databases are named after it, so a database
whose owner record never came is swept all the same. The killed and live runs' databases, on every
target: tests/serverrun/test_owners.py."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import anyio
import asyncpg
import pytest

from testsupport.pg.userserver import sweep_dead_runs
from testsupport.postgres import Server
from testsupport.serverrun.holder import lock_key

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")]


def test_a_database_whose_owner_record_never_came_is_swept_all_the_same(own_server: Server) -> None:
    """A kill between CREATE DATABASE and its COMMENT left a database no run ever swept (and the
    URL check's `test_<run>_probe` for good): the run is in the name, so the name is enough."""
    dead, live = uuid.uuid4().hex[:10], uuid.uuid4().hex[:10]
    dead_names = [f"test_{dead}_gw1_migrations3", f"test_{dead}_main", f"test_{dead}_probe"]
    names = [*dead_names, f"test_{live}_gw0_empty", f"test_{dead}_mine"]
    for name in names:
        own_server.create_database(name)  # no COMMENT: killed right after the CREATE

    async def hold_live_runs_lock(conn: asyncpg.Connection) -> dict[str, Any]:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key(live))  # as its holder does
        return await anyio.to_thread.run_sync(sweep_dead_runs, own_server)

    try:
        swept = own_server.run(hold_live_runs_lock, database="template1")  # the lock in another database
        left = own_server.databases()
    finally:
        for name in names:
            own_server.drop_database(name)

    assert sorted(swept["dropped"]) == dead_names
    assert swept["runs"] == 1
    assert f"test_{live}_gw0_empty" in left  # its run is alive
    assert f"test_{dead}_mine" in left  # not a name testsupport gives
