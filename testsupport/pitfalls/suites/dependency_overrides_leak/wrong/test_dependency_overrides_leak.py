import os

import httpx
import pytest
from asgi_lifespan import LifespanManager
from myapp import create_app, verify_auth

app = create_app(os.environ["DATABASE_URL"])  # one app for the module, as `from myapp import app`


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def client():
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://t") as client,
    ):
        yield client


@pytest.mark.anyio
async def test_1_an_admin_route(client):
    app.dependency_overrides[verify_auth] = lambda: "admin"  # bypass auth for this test only?
    assert (await client.delete("/users/1")).status_code == 404


@pytest.mark.anyio
async def test_2_anonymous_write_is_rejected(client):
    assert (await client.delete("/users/1")).status_code == 401
