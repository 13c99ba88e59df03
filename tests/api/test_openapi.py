"""The OpenAPI schema declares the error answers each route can give, with their bodies, and a 405
names every method its path takes. No database: these run on trio too. (400 is FastAPI's answer to a
body it cannot decode, such as bytes that are not UTF-8: the schema fuzz test found it.)"""

from __future__ import annotations

import httpx
import pytest

ERROR = "#/components/schemas/ErrorOut"
DATABASE_ERROR = "#/components/schemas/DatabaseErrorOut"

EXPECTED = {
    ("get", "/health"): {"200", "503"},
    ("post", "/users"): {"201", "400", "401", "409", "413", "422", "503"},
    ("get", "/users"): {"200", "422", "503"},
    ("get", "/users/{user_id}"): {"200", "404", "422", "503"},
    ("patch", "/users/{user_id}"): {"200", "400", "401", "404", "409", "413", "422", "503"},
    ("delete", "/users/{user_id}"): {"204", "401", "404", "422", "503"},
    ("post", "/users/{user_id}/notes"): {"201", "400", "401", "404", "413", "422", "503"},
    ("get", "/users/{user_id}/notes"): {"200", "404", "422", "503"},
    ("delete", "/notes/{note_id}"): {"204", "401", "404", "422", "503"},
}


async def test_every_route_declares_its_error_responses(bare_client: httpx.AsyncClient) -> None:
    paths = (await bare_client.get("/openapi.json")).json()["paths"]
    declared = {(method, path): set(op["responses"]) for path, ops in paths.items() for method, op in ops.items()}
    assert declared == EXPECTED
    for (method, path), codes in EXPECTED.items():
        responses = paths[path][method]["responses"]
        for code in codes & {"400", "401", "404", "409", "413", "503"}:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": DATABASE_ERROR if code == "503" else ERROR}, (method, path, code)


async def test_error_models_match_the_bodies(bare_client: httpx.AsyncClient) -> None:
    schemas = (await bare_client.get("/openapi.json")).json()["components"]["schemas"]
    assert schemas["ErrorOut"]["required"] == ["detail"]
    assert schemas["DatabaseErrorOut"]["required"] == ["detail", "error"]
    unauthorized = await bare_client.post("/users", json={})
    assert set(unauthorized.json()) == {"detail"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/users/1", "GET, PATCH, DELETE"),
        ("POST", "/users/1", "GET, PATCH, DELETE"),
        ("DELETE", "/users", "GET, POST"),
        ("GET", "/notes/1", "DELETE"),
        ("POST", "/health", "GET"),
    ],
)
async def test_405_allow_lists_every_method_of_the_path(
    bare_client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await bare_client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {"detail": "Method Not Allowed"}
