"""/health, and a database that cannot be reached: 503 with a JSON body, never a bare 500."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from service.main import create_app
from service.settings import Settings
from testsupport.app import serve

DIALECTS = {"sqlite": "sqlite", "postgres": "postgresql", "mariadb": "mysql"}  # SQLAlchemy's dialect names


async def test_health_names_the_database(client: httpx.AsyncClient, database: str) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": DIALECTS[database]}


@pytest.fixture
def unreachable_url(database: str, tmp_path: Path) -> str:
    if database == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite'}"
    if database == "mariadb":
        return "mysql+aiomysql://root@127.0.0.1:1/nothing"  # port 1: connection refused
    return "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"


async def test_unreachable_database_is_503_and_the_app_keeps_serving(unreachable_url: str) -> None:
    app = create_app(Settings(database_url=unreachable_url, api_token=SecretStr("t")))
    async with serve(app, headers={"Authorization": "Bearer t"}) as client:
        health = await client.get("/health")
        write = await client.post("/users", json={"email": "a@example.com", "name": "A"})
        read = await client.get("/users/1")
        for response in (health, write, read):
            assert response.status_code == 503
            assert response.json()["detail"] == "The database is unavailable; try again later."
            assert response.headers["retry-after"] == "5"
        assert (await client.get("/openapi.json")).status_code == 200
