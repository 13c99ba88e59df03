"""Who owns a test database on the user's MariaDB server, and whether that run is still alive.

As PostgreSQL's ``pg.holder``, with MariaDB's named locks: a run on ``TEST_MARIADB_URL`` starts
``python -m testsupport.maria.holder OWNER_PID RUN_ID STATE_DIR`` (``serverrun.holder``: the URL on
stdin, held for as long as OWNER_PID lives), which takes ``GET_LOCK('testsupport-run:RUN_ID')``.
The server releases a named lock when the connection holding it ends, however its process ended,
so another run, on any host, tells a dead run from a live one with ``GET_LOCK(name, 0)``. Each
database the run creates carries its owner record (``serverrun.holder.owner_record``) as its
COMMENT, which tells this run's databases (``owned``); if the holder dies too, the next run drops
them (``userserver.sweep_dead_runs``). https://mariadb.com/kb/en/get_lock/
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from testsupport.maria.server import DRIVER, quoted
from testsupport.serverrun.holder import MARK, lock_name, main, sigterm_event, watch

# The databases that may carry an owner record; parse_owned keeps those that do.
# A bound pattern: the driver formats a statement sent with parameters with %, so a literal '%' in
# the SQL would need doubling.
OWNED_DATABASES = text("SELECT SCHEMA_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :p")
PATTERN = "test\\_%"


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


async def _drop_own(conn: AsyncConnection, run_id: str) -> None:
    with contextlib.suppress(Exception):
        await drop_run(conn, run_id)


async def hold(url: str, owner_pid: int, run_id: str, state_dir: Path) -> int:
    engine = create_async_engine(make_url(url).set(drivername=DRIVER), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    stop = sigterm_event()
    try:
        async with engine.connect() as conn:
            if (await conn.execute(text("SELECT GET_LOCK(:name, 10)"), {"name": lock_name(run_id)})).scalar() != 1:
                print(f"GET_LOCK({lock_name(run_id)!r}) timed out", file=sys.stderr)
                return 1
            await watch(stop, owner_pid, state_dir, lambda: conn.closed, lambda: _drop_own(conn, run_id))
        return 0
    finally:
        await engine.dispose()


if __name__ == "__main__":
    main(hold)
