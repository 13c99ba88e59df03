import httpx
import pytest
from settingsapp import app


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def client():  # the usual hand-made client: the app as it comes, on its engine from settings
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@pytest.mark.anyio
async def test_create_user(client):
    response = await client.post("/users", json={"email": "a@example.com", "name": "A"})
    assert response.status_code == 201
