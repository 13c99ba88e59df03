import asyncio
import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
async def engine(anyio_backend):  # an async session fixture: it holds the loop for the session
    engine = create_async_engine(
        os.environ["DATABASE_URL"], poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0
    )
    yield engine
    await engine.dispose()


async def query(engine):
    async with engine.connect() as conn:
        return await conn.scalar(text("SELECT 1"))


@pytest.mark.anyio
@pytest.mark.parametrize("n", range(3))
async def test_concurrent_queries(engine, n):  # the second query waits for the pool's only connection
    assert await asyncio.gather(query(engine), query(engine)) == [1, 1]
