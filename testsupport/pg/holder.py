"""Who owns a test database on the user's server, and whether that run is still alive.

A run on ``TEST_POSTGRES_URL`` starts this small process before it creates any database:
``python -m testsupport.pg.holder OWNER_PID RUN_ID STATE_DIR`` reads the URL on stdin (so no password is
in a file or in the process list), connects, takes the run's session advisory lock (``lock_key``) and holds it
for as long as OWNER_PID (the pytest process, or the xdist controller) lives. Each database the run
creates carries a COMMENT with its owner record (the run, its lock, host, pid, boot id, start time).
Another run, on any host, tells a dead run from a live one by trying that lock: PostgreSQL
releases it when the holding connection ends, however its process ended.
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS

When the owner dies (kill -9) the holder drops the run's databases and its STATE_DIR itself and
exits; if the holder
dies too (the whole machine, kill -9 of both), the next run drops them (``sweep_dead_runs``).
It runs in its own session, so Ctrl-C in the terminal reaches pytest only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
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


OWNED_DATABASES = """
SELECT d.datname, shobj_description(d.oid, 'pg_database')
FROM pg_database d WHERE d.datname LIKE 'test\\_%'
"""


def parse_owned(rows: list[Any]) -> dict[tuple[str, str], list[str]]:
    """(run id, its lock's database) -> the run's databases, from rows of OWNED_DATABASES.
    Databases without an owner record (a kept --reuse-db template, anything testsupport did not
    make) are never touched."""
    runs: dict[tuple[str, str], list[str]] = {}
    for name, comment in rows:
        try:
            record = json.loads(comment or "")
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get(MARK), str):
            runs.setdefault((record[MARK], str(record.get("lock_database"))), []).append(name)
    return runs


async def _drop_own(conn: asyncpg.Connection, run_id: str) -> None:
    owned = parse_owned(await conn.fetch(OWNED_DATABASES))
    import asyncpg

    for name in [n for (run, _), names in owned.items() if run == run_id for n in names]:
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
