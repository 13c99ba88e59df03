import os

import pytest
from myapp import Base, User
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine


def make_engine(url):
    return create_async_engine(url)


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
