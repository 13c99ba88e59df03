"""The user's own server, ``TEST_POSTGRES_URL``: checked once, every failure named with its fix."""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import URL

from testsupport.pg import holder
from testsupport.pg.errors import PostgresFailedToStart, PostgresMisconfigured
from testsupport.pg.runstate import owner_pid, run_id
from testsupport.pg.server import Server, asyncpg_dsn
from testsupport.serverrun import userserver
from testsupport.serverrun.admin import shown
from testsupport.serverrun.holder import lock_key, owner_record

URL_ENV = "TEST_POSTGRES_URL"


def parse_url(raw: str) -> Server:
    """The URL as a Server, or an error that never shows the password."""
    form = "postgresql://user:password@host:port/db"
    return Server(userserver.parse_url(raw, URL_ENV, ("postgresql",), "PostgreSQL", form, PostgresMisconfigured))


# A server answers the startup message in milliseconds; a port where nothing answers (a firewall
# dropping packets, another program listening) would otherwise hold the run for asyncpg's timeout.
PROBE_SECONDS = 3.0
CAN_CREATE = "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"


def _silence(url: URL) -> str:
    """Why a connection timed out: nothing at the address, or something that is not PostgreSQL."""
    if not url.host:  # a unix socket folder (?host=): nothing more to tell
        return f"no answer within {PROBE_SECONDS:g} s"
    where = f"{url.host}:{url.port or 5432}"
    try:
        socket.create_connection((url.host, url.port or 5432), timeout=PROBE_SECONDS).close()
    except OSError:
        return (
            f"no answer from {where} within {PROBE_SECONDS:g} s: the host is down, or a firewall drops the connection"
        )
    return (
        f"{where} accepted the connection but sent nothing back within {PROBE_SECONDS:g} s: a program "
        "other than PostgreSQL listens there"
    )


def external_server(raw: str) -> Server:
    """Check TEST_POSTGRES_URL once, creating nothing (a run killed here leaves nothing behind);
    every failure names the URL (password hidden), the reason and the fix, within seconds."""
    import asyncpg

    server = parse_url(raw)
    url = server.admin_url
    hint = f"Fix {URL_ENV}, or unset it to use a throwaway embedded server."
    try:
        # CREATEDB is a role attribute, never inherited from another role: this is the whole check.
        # https://www.postgresql.org/docs/current/role-attributes.html
        can_create = replace(server, connect_timeout=PROBE_SECONDS).execute(CAN_CREATE)[0][0][0]
    except socket.gaierror as exc:
        raise PostgresMisconfigured(f"{URL_ENV}={shown(url)}: unknown host ({exc}). {hint}") from None
    except TimeoutError:
        raise PostgresMisconfigured(f"{URL_ENV}={shown(url)}: cannot connect: {_silence(url)}. {hint}") from None
    except OSError as exc:
        reason = "connection refused: no server listens there" if isinstance(exc, ConnectionRefusedError) else exc
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)}: cannot connect ({reason}). Start that server, or {hint[0].lower()}{hint[1:]}"
        ) from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)}: authentication failed ({exc}). Put the right user and password in the URL. {hint}"
        ) from None
    except asyncpg.PostgresError as exc:
        raise PostgresMisconfigured(f"{URL_ENV}={shown(url)}: {exc}. {hint}") from None
    if not can_create:
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)}: role {url.username!r} may not create databases; the tests create "
            f'and drop their own. Run `ALTER ROLE "{url.username}" CREATEDB;` as a superuser, or use a '
            "role that has it."
        )
    return server


def user_server() -> Server:
    """The user's server again, in any process of the run: its URL (and password) is read from
    the environment each time and never written to the run's files."""
    return parse_url(os.environ[URL_ENV])


def start_holder(server: Server) -> int:
    """Start the process that holds this run's lock on the server (see pg.holder); its pid."""
    where = f"{URL_ENV}={shown(server.admin_url)}"
    return userserver.start_holder("testsupport.pg.holder", asyncpg_dsn(server.admin_url), where, PostgresFailedToStart)


def owner_comment(server: Server, database: str) -> str:
    """The statement that records this run as ``database``'s owner."""
    record = owner_record(run_id(), owner_pid(), server.admin_url.database or "")
    return holder.comment_sql(database, record)


def sweep_dead_runs(server: Server) -> dict[str, Any]:
    """Drop the databases of runs whose lock nobody holds any more (their run died), on any host;
    databases of live runs, and databases testsupport did not name, are left alone."""
    import asyncpg

    # Names first, then locks: a run takes its lock before it creates a database, so a database
    # seen here belongs to a run whose lock, if it lives, is in the list read after.
    runs = holder.runs_databases(server.databases())
    held = {row[0] for row in server.execute(holder.HELD_LOCKS)[0]} if runs else set()
    dead = {run: names for run, names in runs.items() if lock_key(run) not in held}

    async def drop(conn: asyncpg.Connection) -> list[str]:
        dropped = []
        for name in [name for names in dead.values() for name in names]:
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except asyncpg.PostgresError:
                continue  # another role's, say: not ours to drop; the next run tries again
            dropped.append(name)
        return dropped

    dropped = server.run(drop) if dead else []
    return {"dropped": dropped, "runs": len([run for run, names in dead.items() if set(names) & set(dropped)])}
