"""Writes need the bearer token. The rejections never reach the database, so they run on trio too."""

from __future__ import annotations

import httpx
import pytest

WRITES = [
    ("POST", "/users"),
    ("PATCH", "/users/1"),
    ("DELETE", "/users/1"),
    ("POST", "/users/1/notes"),
    ("DELETE", "/notes/1"),
]


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic dGVzdDp0ZXN0"}, {"Authorization": "Bearer"}],
    ids=["missing", "wrong", "not-bearer", "empty"],
)
async def test_write_without_valid_token_is_401(
    bare_client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await bare_client.request(method, path, json={"email": "a@example.com", "name": "A"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "Missing or invalid bearer token."}


async def test_valid_token_is_accepted(client: httpx.AsyncClient, api_token: str) -> None:
    response = await client.post(
        "/users", json={"email": "a@example.com", "name": "A"}, headers={"Authorization": f"Bearer {api_token}"}
    )
    assert response.status_code == 201


async def test_openapi_schema_is_served(bare_client: httpx.AsyncClient) -> None:
    response = await bare_client.get("/openapi.json")
    assert response.status_code == 200
    assert "/users/{user_id}/notes" in response.json()["paths"]
