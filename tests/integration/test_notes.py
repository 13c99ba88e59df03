"""The notes routes, and the users -> notes foreign key (ON DELETE CASCADE) on both databases."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Note


async def make_user(client: httpx.AsyncClient, email: str = "ada@example.com") -> int:
    response = await client.post("/users", json={"email": email, "name": "Ada"})
    assert response.status_code == 201, response.text
    user_id: int = response.json()["id"]
    return user_id


async def test_create_and_list_notes(client: httpx.AsyncClient) -> None:
    user_id = await make_user(client)
    for title in ("first", "second", "third"):
        created = await client.post(f"/users/{user_id}/notes", json={"title": title, "body": "text"})
        assert created.status_code == 201, created.text
        assert created.json()["user_id"] == user_id
    page = (await client.get(f"/users/{user_id}/notes", params={"limit": 2, "offset": 1})).json()
    assert [n["title"] for n in page["items"]] == ["second", "third"]


async def test_notes_of_a_user_without_notes_is_an_empty_page(client: httpx.AsyncClient) -> None:
    user_id = await make_user(client)
    response = await client.get(f"/users/{user_id}/notes")
    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_note_for_unknown_user_is_404_by_foreign_key(client: httpx.AsyncClient) -> None:
    # No existence check in the handler: the foreign key refuses the row (SQLite included, where
    # service.db turns foreign keys on), and the handler maps that to 404.
    response = await client.post("/users/424242/notes", json={"title": "orphan"})
    assert response.status_code == 404
    assert response.json() == {"detail": "User 424242 not found."}
    assert (await client.get("/users/424242/notes")).status_code == 404


async def test_deleting_a_user_cascades_to_notes(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    keep = await make_user(client, "grace@example.com")
    gone = await make_user(client)
    for user_id in (keep, gone, gone):
        assert (await client.post(f"/users/{user_id}/notes", json={"title": "n"})).status_code == 201
    assert (await client.delete(f"/users/{gone}")).status_code == 204
    owners = (await db_session.scalars(select(Note.user_id))).all()
    assert owners == [keep]


async def test_delete_note(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    user_id = await make_user(client)
    note = (await client.post(f"/users/{user_id}/notes", json={"title": "n"})).json()
    assert (await client.delete(f"/notes/{note['id']}")).status_code == 204
    assert (await client.delete(f"/notes/{note['id']}")).status_code == 404
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0
