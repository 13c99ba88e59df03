"""Talking to a PostgreSQL server: create, clone and drop databases, from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import URL

from testsupport.serverrun.admin import in_thread

if TYPE_CHECKING:  # imported where it connects: a run that never reaches PostgreSQL never loads it
    import asyncpg

T = TypeVar("T")


def asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Server:
    admin_url: URL  # a database to connect to for CREATE/DROP DATABASE; never written to
    connect_timeout: float = 10.0

    def url_for(self, database: str) -> str:
        return self.admin_url.set(drivername="postgresql+asyncpg", database=database).render_as_string(
            hide_password=False
        )

    def run(self, work: Callable[[asyncpg.Connection], Awaitable[T]], database: str | None = None) -> T:
        """``work`` on a connection of its own (to the admin database, or ``database``)."""
        import asyncpg  # here, not in the worker thread: imported there, it crashed xdist workers

        url = self.admin_url if database is None else self.admin_url.set(database=database)

        async def go() -> T:
            conn = await asyncpg.connect(asyncpg_dsn(url), timeout=self.connect_timeout)
            try:
                return await work(conn)
            finally:
                await conn.close()

        return in_thread(lambda: asyncio.run(go()))

    def execute(self, *statements: str) -> list[Any]:
        async def fetch_all(conn: asyncpg.Connection) -> list[Any]:
            return [await conn.fetch(s) for s in statements]

        return self.run(fetch_all)

    def databases(self) -> set[str]:
        return {row[0] for row in self.execute("SELECT datname FROM pg_database")[0]}

    def create_database(self, name: str, template: str | None = None, then: tuple[str, ...] = ()) -> str:
        """Create ``name`` (empty, or a clone of ``template``), then run ``then`` on the same
        connection (the owner's COMMENT on a user's server)."""

        async def create(conn: asyncpg.Connection) -> None:
            if template is None:
                source = "template0"
            else:
                # FILE_COPY clones by copying files (6-90 ms) instead of WAL-logging every block
                # (PostgreSQL 15+; the version comes with the connection, no query needed).
                source = f'"{template}"' + (" STRATEGY FILE_COPY" if conn.get_server_version().major >= 15 else "")
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {source}')
            for statement in then:
                await conn.execute(statement)

        self.run(create)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
