"""Alembic environment.

With ``config.attributes["connection"]`` set (the tests, ``service.migrate``), it migrates on that
connection inside the caller's transaction and event loop. Otherwise it builds its own engine with
``service.db.make_engine`` from ``config.attributes["url"]`` or ``DATABASE_URL`` and runs it with
``asyncio.run``, which is only allowed where no event loop is running (the CLI, a worker thread).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from service.db import make_engine
from service.migrate import compare_server_default
from service.models import Base
from service.settings import Settings

config = context.config
target_metadata = Base.metadata


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=compare_server_default,
    )


def run_on(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run them against a database.")

shared = config.attributes.get("connection")
if shared is not None:
    run_on(shared)
else:
    asyncio.run(run_with_own_engine(config.attributes.get("url") or Settings().database_url))
