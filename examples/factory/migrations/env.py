import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from notes_app.db import make_engine
from notes_app.models import Base

config = context.config


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    # `alembic upgrade head` from the command line: the app's own database (NOTES_DATABASE_URL).
    engine = make_engine()
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


# The tests: testsupport hands over a connection, inside its running event loop, where
# asyncio.run() would fail. Alembic cookbook: "Sharing a Connection across one or more
# programmatic migration commands".
connection = config.attributes.get("connection")
if connection is not None:
    do_run_migrations(connection)
else:
    asyncio.run(run_async_migrations())
