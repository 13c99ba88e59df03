import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from testsupport.guard import install_loop_guard


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
async def engine(anyio_backend):  # an async session fixture: it holds the loop for the session
    engine = create_async_engine(os.environ["DATABASE_URL"])
    install_loop_guard(engine)
    yield engine
    await engine.dispose()


@pytest.mark.anyio
@pytest.mark.parametrize("n", range(3))
async def test_query(engine, n):
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
