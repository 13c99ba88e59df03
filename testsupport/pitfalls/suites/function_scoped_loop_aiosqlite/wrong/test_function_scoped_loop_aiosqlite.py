import asyncio
import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

# One pool for the whole module; one connection at a time, as SQLite is often set up. The pool is
# named: SQLAlchemy before 2.0.38 gives a file database NullPool (aiosqlite dialect docs, "versionchanged:: 2.0.38").
engine = create_async_engine(os.environ["DATABASE_URL"], poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0)


@pytest.fixture
def anyio_backend():  # function scope: every test gets a new event loop
    return "asyncio"


async def query():
    async with engine.connect() as conn:
        return await conn.scalar(text("SELECT 1"))


@pytest.mark.anyio
@pytest.mark.parametrize("n", range(3))
async def test_concurrent_queries(n):  # the second query waits for the pool's only connection
    assert await asyncio.gather(query(), query()) == [1, 1]
