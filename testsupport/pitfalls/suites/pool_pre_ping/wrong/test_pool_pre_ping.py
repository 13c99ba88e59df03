import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)  # "ping before use"


@pytest.fixture
def anyio_backend():  # function scope: every test gets a new event loop
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("n", range(3))
async def test_query(n):
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
