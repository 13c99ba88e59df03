import os

import httpx
import pytest
from asgi_lifespan import LifespanManager
from myapp import create_app


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_list_users():
    app = create_app(os.environ["DATABASE_URL"])
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://t") as client,
    ):
        assert (await client.get("/users")).status_code == 200
