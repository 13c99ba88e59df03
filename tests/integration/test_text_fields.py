"""A NUL character in any text field: the same 422 on both databases, naming the field, and nothing
stored. (PostgreSQL text cannot hold U+0000, so asyncpg failed with a 500; SQLite stored it.)"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Note, User

ADA = {"email": "ada@example.com", "name": "Ada"}

CASES = [
    ("POST", "/users", {"email": "grace@example.com", "name": "Gr\x00ace"}, "name"),
    ("POST", "/users", {"email": "gr\x00ace@example.com", "name": "Grace"}, "email"),
    ("PATCH", "/users/{id}", {"name": "\x00"}, "name"),
    ("PATCH", "/users/{id}", {"email": "ada\x00@example.com"}, "email"),
    ("POST", "/users/{id}/notes", {"title": "T\x00"}, "title"),
    ("POST", "/users/{id}/notes", {"title": "T", "body": "line\x00"}, "body"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    CASES,
    ids=["create-name", "create-email", "patch-name", "patch-email", "note-title", "note-body"],
)
async def test_nul_character_is_422_naming_the_field(
    client: httpx.AsyncClient, db_session: AsyncSession, method: str, path: str, body: dict[str, str], field: str
) -> None:
    created = await client.post("/users", json=ADA)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]

    response = await client.request(method, path.format(id=user_id), json=body)

    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [["body", field]]
    if field != "email":  # email-validator finds it first, with its own message
        assert errors[0]["type"] == "string_nul"
    users = (await db_session.scalars(select(User))).all()
    assert [(u.email, u.name) for u in users] == [(ADA["email"], ADA["name"])]
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0
