"""Who owns a test database on the user's MariaDB server, and whether that run is still alive.

As PostgreSQL's ``pg.holder``, with MariaDB's named locks: a run on ``TEST_MARIADB_URL`` starts
``python -m testsupport.maria.holder OWNER_PID RUN_ID STATE_DIR`` (the URL on stdin: no password in
a file or the process list), which takes ``GET_LOCK('testsupport-run:RUN_ID')`` and holds it for as
long as OWNER_PID lives. The server releases a named lock when the connection holding it ends,
however its process ended, so another run, on any host, tells a dead run from a live one with
``IS_FREE_LOCK``. Each database the run creates carries its owner record (pg.holder's) as its
COMMENT. When the owner dies (kill -9), the holder drops the run's databases and STATE_DIR and
exits; if it dies too, the next run drops them (``userserver.sweep_dead_runs``).
https://mariadb.com/kb/en/get_lock/
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from testsupport.maria.server import DRIVER, quoted
from testsupport.pg.holder import MARK
from testsupport.pg.runstate import pid_alive

POLL_SECONDS = 0.05
# The databases that may carry an owner record; pg.holder.parse_owned keeps those that do.
# A bound pattern: the driver formats a statement sent with parameters with %, so a literal '%' in
# the SQL would need doubling.
OWNED_DATABASES = text("SELECT SCHEMA_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :p")
PATTERN = "test\\_%"


def lock_name(run_id: str) -> str:
    return f"testsupport-run:{run_id}"  # named locks are server-wide, at most 64 characters


def parse_owned(rows: list[Any]) -> dict[str, list[str]]:
    """Run id -> its databases, from (name, comment) rows. Databases without an owner record are
    never touched."""
    runs: dict[str, list[str]] = {}
    for name, comment in rows:
        try:
            record = json.loads(comment or "")
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get(MARK), str):
            runs.setdefault(record[MARK], []).append(name)
    return runs


async def owned(conn: AsyncConnection) -> dict[str, list[str]]:
    return parse_owned(list((await conn.execute(OWNED_DATABASES, {"p": PATTERN})).all()))


async def drop_run(conn: AsyncConnection, run_id: str) -> list[str]:
    names = (await owned(conn)).get(run_id, [])
    for name in names:
        await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted(name)}")
    return names


async def hold(url: str, owner_pid: int, run_id: str, state_dir: Path) -> int:
    engine = create_async_engine(make_url(url).set(drivername=DRIVER), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with engine.connect() as conn:
            if (await conn.execute(text("SELECT GET_LOCK(:name, 10)"), {"name": lock_name(run_id)})).scalar() != 1:
                print(f"GET_LOCK({lock_name(run_id)!r}) timed out", file=sys.stderr)
                return 1
            print("ready", flush=True)
            while not stop.is_set() and pid_alive(owner_pid) and not conn.closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_SECONDS)
            if not pid_alive(owner_pid):  # the run was killed: clean up after it
                with contextlib.suppress(Exception):
                    await drop_run(conn, run_id)
                shutil.rmtree(state_dir, ignore_errors=True)
        return 0
    finally:
        await engine.dispose()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the owner's end or SIGTERM stops it
    owner, run, state = sys.argv[1:4]
    sys.exit(asyncio.run(hold(sys.stdin.readline().strip(), int(owner), run, Path(state))))
