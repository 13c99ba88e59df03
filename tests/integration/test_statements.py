"""Each request does the fewest statements its work needs, on both databases (an N+1 guard)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import ReleaseSavepointClause, RollbackToSavepointClause, SavepointClause

from testsupport.queries import Queries

CountQueries = Callable[[], AbstractContextManager[Queries]]


@pytest.fixture
async def user_id(client: httpx.AsyncClient) -> int:
    response = await client.post("/users", json={"email": "ada@example.com", "name": "Ada"})
    created: int = response.json()["id"]
    await client.post(f"/users/{created}/notes", json={"title": "first"})
    return created


async def test_create_user_is_one_insert_returning(client: httpx.AsyncClient, count_queries: CountQueries) -> None:
    with count_queries() as queries:
        response = await client.post("/users", json={"email": "grace@example.com", "name": "Grace"})
    assert response.status_code == 201
    assert queries.count == 1, queries.work
    assert queries.work[0].startswith("INSERT INTO users")
    assert "RETURNING" in queries.work[0]


@pytest.mark.parametrize(
    ("method", "path", "body", "verb"),
    [
        ("GET", "/users", None, "SELECT"),
        ("GET", "/users/{id}", None, "SELECT"),
        ("PATCH", "/users/{id}", {"name": "Countess"}, "UPDATE"),
        ("POST", "/users/{id}/notes", {"title": "second"}, "INSERT"),
        ("GET", "/users/{id}/notes", None, "SELECT"),
        ("DELETE", "/users/{id}", None, "DELETE"),
        ("GET", "/health", None, "SELECT"),
    ],
    ids=["list-users", "get-user", "update-user", "create-note", "list-notes", "delete-user", "health"],
)
async def test_each_request_is_one_statement(
    client: httpx.AsyncClient,
    count_queries: CountQueries,
    user_id: int,
    method: str,
    path: str,
    body: dict[str, str] | None,
    verb: str,
    database: str,
) -> None:
    with count_queries() as queries:
        response = await client.request(method, path.format(id=user_id), json=body)
    assert response.status_code < 300, response.text
    # MariaDB has no UPDATE ... RETURNING (service/api.py reads the row back).
    assert queries.count == (2 if verb == "UPDATE" and database == "mariadb" else 1), queries.work
    assert queries.work[0].lstrip().upper().startswith(verb)


async def test_savepoints_are_the_sql_sqlalchemy_compiles(
    client: httpx.AsyncClient, count_queries: CountQueries, schema: AsyncEngine
) -> None:
    # The test engine sends its savepoints precompiled (testsupport.engine.precompiled_savepoints):
    # the same text SQLAlchemy's compiler gives, for a commit and for a handled IntegrityError.
    with count_queries() as queries:
        assert (await client.post("/users", json={"email": "sp@example.com", "name": "S"})).status_code == 201
        assert (await client.post("/users", json={"email": "sp@example.com", "name": "S"})).status_code == 409
    control = [s for s in queries.statements if s not in queries.work]
    kinds: list[Any] = [SavepointClause, ReleaseSavepointClause, SavepointClause, RollbackToSavepointClause]
    names = [s.split()[-1] for s in control]
    assert control == [str(kind(name).compile(dialect=schema.dialect)) for kind, name in zip(kinds, names, strict=True)]
    assert len(queries.work) == 2
