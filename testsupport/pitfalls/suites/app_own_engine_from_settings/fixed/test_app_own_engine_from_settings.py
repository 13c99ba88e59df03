import pytest


@pytest.mark.anyio
async def test_create_user(client):  # testsupport's `client`: the app's SessionLocal on the test's connection
    response = await client.post("/users", json={"email": "a@example.com", "name": "A"})
    assert response.status_code == 201
