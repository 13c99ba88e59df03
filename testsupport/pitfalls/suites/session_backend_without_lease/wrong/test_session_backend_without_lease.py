import asyncio
import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(os.environ["DATABASE_URL"])


@pytest.fixture(scope="session")
def anyio_backend():  # session scope, but nothing holds anyio's runner between tests
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("n", range(3))
async def test_query(n):
    print(f"loop={id(asyncio.get_running_loop()):#x}")
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
