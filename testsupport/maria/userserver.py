"""The user's own server, ``TEST_MARIADB_URL``: checked once, every failure named with its fix; the
run's databases there carry an owner record, and what killed runs left is dropped."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from testsupport.maria import holder
from testsupport.maria.errors import MariaDBFailedToStart, MariaDBMisconfigured
from testsupport.maria.server import DRIVER, Server, quoted
from testsupport.pg.runstate import owner_pid, run_id
from testsupport.serverrun import userserver
from testsupport.serverrun.admin import in_thread, shown
from testsupport.serverrun.holder import lock_name, owner_record

URL_ENV = "TEST_MARIADB_URL"
FORM = "mysql://user:password@host:3306/"


def parse_url(raw: str) -> Server:
    """The URL as a Server, or an error that never shows the password."""
    return Server(userserver.parse_url(raw, URL_ENV, ("mysql", "mariadb"), "MariaDB/MySQL", FORM, MariaDBMisconfigured))


def external_server(raw: str) -> Server:
    """Check TEST_MARIADB_URL once: a database created and dropped, or an error naming the fix."""
    server = parse_url(raw)
    probe = f"test_{run_id()}_probe"
    try:
        server.create_database(probe)
        server.drop_database(probe)
    except Exception as exc:  # noqa: BLE001 - pymysql's errors carry the server's own words
        cause = getattr(exc, "orig", exc)
        raise MariaDBMisconfigured(
            f"{URL_ENV}={shown(server.admin_url)}: {type(cause).__name__}: {cause}. The tests create and drop "
            f"databases of their own (user {server.admin_url.username!r} needs CREATE and DROP on test\\_%); fix "
            f"{URL_ENV}, or unset it to use a throwaway server from the binaries on PATH."
        ) from None
    return server


def user_server() -> Server:
    """The user's server again, in any process of the run: its URL (and password) is read from the
    environment each time and never written to the run's files."""
    return parse_url(os.environ[URL_ENV])


def owner_comment() -> str:
    """The COMMENT that records this run as a database's owner."""
    return json.dumps(owner_record(run_id(), owner_pid(), ""))


def start_holder(server: Server) -> int:
    """Start the process that holds this run's lock on the server (see maria.holder); its pid."""
    url = server.admin_url.render_as_string(hide_password=False)
    where = f"{URL_ENV}={shown(server.admin_url)}"
    return userserver.start_holder("testsupport.maria.holder", url, where, MariaDBFailedToStart)


def sweep_dead_runs(server: Server) -> dict[str, Any]:
    """Drop the databases of runs whose lock nobody holds any more (their run died, on any host);
    databases of live runs and databases without an owner record are left alone."""

    async def sweep() -> dict[str, Any]:
        url = server.admin_url.set(drivername=DRIVER)
        engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        dropped: list[str] = []
        runs = 0
        try:
            async with engine.connect() as conn:
                for run, names in sorted((await holder.owned(conn)).items()):
                    name = lock_name(run)
                    if (await conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": name})).scalar() != 1:
                        continue  # held: that run is alive
                    try:
                        runs += 1
                        for database in names:
                            await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted(database)}")
                            dropped.append(database)
                    finally:
                        await conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
        finally:
            await engine.dispose()
        return {"dropped": sorted(dropped), "runs": runs}

    return in_thread(lambda: asyncio.run(sweep()))
