import asyncio
import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

_engine = None


def get_engine():  # the app's lazily created global engine
    global _engine
    if _engine is None:
        _engine = create_async_engine(os.environ["DATABASE_URL"])
    return _engine


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
async def keep_loop(anyio_backend):
    yield  # noqa: PT022 (held while suspended here)


@pytest.fixture(scope="session", autouse=True)
def warm_up():  # a synchronous set-up step touches the engine first, on a loop of its own
    async def ping():
        async with get_engine().connect() as conn:
            await conn.execute(text("SELECT 1"))

    asyncio.run(ping())


@pytest.mark.anyio
@pytest.mark.parametrize("n", range(2))
async def test_query(n):
    async with get_engine().connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
