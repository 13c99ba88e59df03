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


@pytest.mark.parametrize(
    "raw",
    [
        b'{"email": "ada@example.com", "name": NaN}',
        b'{"email": "ada@example.com", "name": Infinity}',
        b'{"email": "ada@example.com", "name": -Infinity}',
        b'{"email": "ada@example.com", "name": "\\ud800"}',
        b'{"email": "ada@example.com", "name": "Ada", "\\udfff": [NaN]}',
    ],
    ids=["nan", "infinity", "minus-infinity", "lone-surrogate", "surrogate-key"],
)
async def test_values_json_cannot_echo_are_a_json_422(client: httpx.AsyncClient, raw: bytes) -> None:
    # Python's json module reads NaN, Infinity and lone surrogates; FastAPI's own 422 handler then
    # failed to encode the input it echoes, and answered a plain-text 500.
    response = await client.post("/users", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["detail"]
    assert error["loc"][0] == "body"
    # Echoed as JSON can carry them: the literal's name, a surrogate as its escape (a surrogate
    # key fails as a string itself).
    assert error["input"] in ("NaN", "Infinity", "-Infinity", "\\ud800", "\\udfff")


async def test_body_that_is_not_utf8_is_a_declared_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/users", content=b'{"name": "\xff"}', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}
    schema = (await client.get("/openapi.json")).json()
    assert "400" in schema["paths"]["/users"]["post"]["responses"]
