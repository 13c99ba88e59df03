"""Bad input gets the right 4xx with a useful JSON body, never a 500."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Ada"}, "email"),
        ({"email": "ada@example.com"}, "name"),
        ({"email": "not-an-email", "name": "Ada"}, "email"),
        ({"email": "ada@example.com", "name": "x" * 101}, "name"),
        ({"email": "ada@example.com", "name": "   "}, "name"),
        ({"email": "ada@example.com", "name": "Ada", "admin": True}, "admin"),
    ],
    ids=["missing-email", "missing-name", "invalid-email", "long-name", "blank-name", "unknown-field"],
)
async def test_invalid_user_body_is_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post("/users", json=body)
    assert response.status_code == 422
    assert field in [error["loc"][-1] for error in response.json()["detail"]]


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users", content=b'{"email": "ada@example.com", "name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "params",
    [{"limit": -1}, {"limit": 0}, {"limit": 101}, {"limit": 10**30}, {"offset": -1}, {"offset": 2**40}, {"limit": "x"}],
    ids=["negative-limit", "zero-limit", "large-limit", "huge-limit", "negative-offset", "huge-offset", "text-limit"],
)
async def test_bad_pagination_is_422(client: httpx.AsyncClient, params: dict[str, int | str]) -> None:
    response = await client.get("/users", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


@pytest.mark.parametrize("user_id", ["0", "-3", "abc", str(2**31), "99999999999999999999999"])
async def test_out_of_range_ids_are_422_not_a_driver_error(client: httpx.AsyncClient, user_id: str) -> None:
    response = await client.get(f"/users/{user_id}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "user_id"]
