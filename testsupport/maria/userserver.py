"""The user's own server, ``TEST_MARIADB_URL``: checked once, every failure named with its fix; the
run's databases there carry an owner record, and what killed runs left is dropped."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from testsupport.maria import holder
from testsupport.maria.errors import MariaDBFailedToStart, MariaDBMisconfigured
from testsupport.maria.server import DRIVER, Server, quoted
from testsupport.pg.holder import owner_record
from testsupport.pg.runstate import keep_child, owner_pid, run_id, run_state_dir, stop_child
from testsupport.pg.server import in_thread, shown

URL_ENV = "TEST_MARIADB_URL"
FORM = "mysql://user:password@host:3306/"


def parse_url(raw: str) -> Server:
    """The URL as a Server, or an error that never shows the password."""
    try:
        url = make_url(raw)
    except Exception:  # noqa: BLE001 - ArgumentError and ValueError both mean "not a URL"
        raise MariaDBMisconfigured(
            f"{URL_ENV} is set but is not a database URL (its value is not shown: it may hold a password); use {FORM}."
        ) from None
    if url.get_backend_name() not in ("mysql", "mariadb"):
        raise MariaDBMisconfigured(f"{URL_ENV}={shown(url)} is not a MariaDB/MySQL URL; use {FORM}.")
    return Server(url)


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
    process = subprocess.Popen(
        [sys.executable, "-m", "testsupport.maria.holder", str(owner_pid()), run_id(), str(run_state_dir())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C goes to pytest; the holder ends with the run
    )
    out, err = process.stdout, process.stderr
    assert process.stdin is not None
    assert out is not None
    assert err is not None
    process.stdin.write(server.admin_url.render_as_string(hide_password=False) + "\n")  # not argv
    process.stdin.close()
    if out.readline().strip() != "ready":
        process.wait()
        raise MariaDBFailedToStart(
            f"could not hold this run's lock on {URL_ENV}={shown(server.admin_url)}: {err.read()[-2000:]}"
        )
    out.close()
    err.close()
    return keep_child(process)


def stop_holder(pid: int) -> None:
    stop_child(pid, 10)


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
                    name = holder.lock_name(run)
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
