"""Who owns a test database on the user's server, and whether that run is still alive.

A run on ``TEST_POSTGRES_URL`` starts this small process before it creates any database:
``python -m testsupport.pg.holder OWNER_PID RUN_ID STATE_DIR`` reads the URL on stdin (so no password is
in a file or in the process list), connects, takes the run's session advisory lock (``lock_key``) and holds it
for as long as OWNER_PID (the pytest process, or the xdist controller) lives. Each database the run
creates is named after the run (``RUN_DATABASE``: the owner is in its first statement) and then
carries a COMMENT with the owner record (the run, its lock, host, pid, boot id, start time) for
people. Another run, on any host, tells a dead run from a live one by whether that lock is held
anywhere in the cluster (``pg_locks``): PostgreSQL releases it when the holding connection ends,
however its process ended. https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS

When the owner dies (kill -9) the holder drops the run's databases and its STATE_DIR itself and
exits; if the holder dies too (the whole machine, kill -9 of both), the next run drops them
(``sweep_dead_runs``). It runs in its own session, so Ctrl-C in the terminal reaches pytest only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testsupport.pg.runstate import pid_alive

if TYPE_CHECKING:  # imported where it connects: pg.userserver imports this module in every run
    import asyncpg

MARK = "testsupport"  # the key in a database's owner record
POLL_SECONDS = 0.05


def lock_key(run_id: str) -> int:
    """A signed 64-bit advisory lock key for the run."""
    return int.from_bytes(hashlib.sha256(f"testsupport-run:{run_id}".encode()).digest()[:8], "big", signed=True)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def owner_record(run_id: str, owner_pid: int, lock_database: str) -> dict[str, Any]:
    """What a database's COMMENT says about its owner. The lock (in ``lock_database``: advisory
    locks are per database) decides liveness; the rest is for the person reading \\l+."""
    return {
        MARK: run_id,
        "lock": lock_key(run_id),
        "lock_database": lock_database,
        "host": socket.gethostname(),
        "pid": owner_pid,
        "boot_id": _boot_id(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


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
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key(run_id))
        print("ready", flush=True)
        while not stop.is_set() and pid_alive(owner_pid) and not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_SECONDS)
        if not pid_alive(owner_pid):  # the run was killed: clean up after it
            await _drop_own(conn, run_id)
            shutil.rmtree(state_dir, ignore_errors=True)
        return 0
    finally:
        await conn.close()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the owner's end or SIGTERM stops it
    owner, run, state = sys.argv[1:4]
    sys.exit(asyncio.run(hold(sys.stdin.readline().strip(), int(owner), run, Path(state))))
