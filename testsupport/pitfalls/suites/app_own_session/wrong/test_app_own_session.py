import pytest

from testsupport.app import serve


@pytest.fixture
async def client(session_app):  # hand-made: the app's sessions are not bound to the test's connection
    async with serve(session_app, headers={"Authorization": "Bearer test-token"}) as client:
        yield client


async def test_create_user(client):
    response = await client.post("/users", json={"email": "a@example.com", "name": "A"})
    assert response.status_code == 201
