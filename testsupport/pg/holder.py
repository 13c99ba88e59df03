"""Who owns a test database on the user's PostgreSQL server, and whether that run is still alive.

A run on ``TEST_POSTGRES_URL`` starts ``python -m testsupport.pg.holder OWNER_PID RUN_ID STATE_DIR``
(``serverrun.holder``: the URL on stdin, held for as long as OWNER_PID lives), which takes the
run's session advisory lock (``serverrun.holder.lock_key``). Each database the run creates is named
after the run (``RUN_DATABASE``: the owner is in its first statement) and then carries a COMMENT
with the owner record (``serverrun.holder.owner_record``) for people. Another run, on any host,
tells a dead run from a live one by whether that lock is held anywhere in the cluster
(``pg_locks``); when the holder dies too, the next run drops its databases
(``userserver.sweep_dead_runs``). https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testsupport.serverrun.holder import lock_key, main, sigterm_event, watch

if TYPE_CHECKING:  # imported where it connects: pg.userserver imports this module in every run
    import asyncpg


def comment_sql(database: str, record: dict[str, Any]) -> str:
    text = json.dumps(record).replace("'", "''")
    return f"COMMENT ON DATABASE \"{database}\" IS '{text}'"


# The names testsupport gives a run's databases (pg.template; pg.workerdb, with any suffix its
# callers add; `_probe` from versions that made one to check the URL): the owner's run id is in
# the first statement that makes one, CREATE DATABASE. The COMMENT that follows is for the person
# reading \l+; a kill between the two statements must leave nothing that is not swept.
RUN_DATABASE = re.compile(r"test_(?P<run>[0-9a-f]{10})_(?:template|probe|main|gw[0-9]+)(?:_[a-z0-9_]+)?")
# Advisory locks held anywhere in the cluster: pg_locks shows every database's, to every role; a
# bigint key is split into classid (high half) and objid (low half), objsubid 1.
# https://www.postgresql.org/docs/current/view-pg-locks.html
HELD_LOCKS = """
SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 1 AND granted
"""


def runs_databases(names: set[str]) -> dict[str, list[str]]:
    """run id -> its databases, among ``names``; other databases are never touched."""
    runs: dict[str, list[str]] = {}
    for name in sorted(names):
        match = RUN_DATABASE.fullmatch(name)
        if match:
            runs.setdefault(match["run"], []).append(name)
    return runs


async def _drop_own(conn: asyncpg.Connection, run_id: str) -> None:
    import asyncpg

    names = {row[0] for row in await conn.fetch("SELECT datname FROM pg_database")}
    for name in runs_databases(names).get(run_id, []):
        with contextlib.suppress(asyncpg.PostgresError):
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def hold(dsn: str, owner_pid: int, run_id: str, state_dir: Path) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    stop = sigterm_event()
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key(run_id))
        await watch(stop, owner_pid, state_dir, conn.is_closed, lambda: _drop_own(conn, run_id))
        return 0
    finally:
        await conn.close()


if __name__ == "__main__":
    main(hold)
