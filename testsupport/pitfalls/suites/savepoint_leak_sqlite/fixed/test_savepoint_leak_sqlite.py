import os

import pytest
from myapp import Base, User
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine


def make_engine(url):
    engine = create_async_engine(url)

    # sqlite3 emits no BEGIN of its own, so RELEASE SAVEPOINT would commit for real: take over.
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    @event.listens_for(engine.sync_engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    return engine


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
async def engine(anyio_backend):
    engine = make_engine(os.environ["DATABASE_URL"])
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine):  # the usual recipe: an outer transaction, rolled back after the test
    async with engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
        yield session
        await session.close()
        await outer.rollback()


@pytest.mark.anyio
@pytest.mark.parametrize("n", range(2))
async def test_commit_is_rolled_back_after_the_test(session, n):
    assert await session.scalar(select(func.count()).select_from(User)) == 0
    session.add(User(email=f"u{n}@example.com", name="U"))
    await session.commit()  # what a handler does: a RELEASE SAVEPOINT here
