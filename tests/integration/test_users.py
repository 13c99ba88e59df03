"""Every users route through the HTTP client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import User

ADA = {"email": "ada@example.com", "name": "Ada Lovelace"}


async def create(client: httpx.AsyncClient, **fields: str) -> dict[str, object]:
    response = await client.post("/users", json=fields or ADA)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_create_returns_the_stored_user(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    body = await create(client, email="Ada@Example.COM", name="  Ada  ")
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada"
    assert str(body["created_at"]).endswith("Z")
    stored = await db_session.get(User, body["id"])
    assert stored is not None
    assert stored.email == "ada@example.com"


async def test_duplicate_email_is_409_and_the_session_stays_usable(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await create(client)
    duplicate = await client.post("/users", json={**ADA, "email": "ADA@example.com"})
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["detail"]
    # The handler rolled back to its savepoint only: the first user is still there, and both the
    # app and the test's session keep working inside the same outer transaction.
    second = await create(client, email="grace@example.com", name="Grace Hopper")
    count = await db_session.scalar(select(func.count()).select_from(User))
    assert count == 2
    assert (await client.get(f"/users/{second['id']}")).status_code == 200


async def test_list_pages_in_id_order(client: httpx.AsyncClient) -> None:
    ids = [(await create(client, email=f"user{i}@example.com", name=f"User {i}"))["id"] for i in range(5)]
    first = (await client.get("/users", params={"limit": 2})).json()
    rest = (await client.get("/users", params={"limit": 10, "offset": 2})).json()
    assert [u["id"] for u in first["items"]] == ids[:2]
    assert [u["id"] for u in rest["items"]] == ids[2:]
    assert (first["limit"], first["offset"]) == (2, 0)
    empty = (await client.get("/users", params={"offset": 5})).json()
    assert empty["items"] == []


async def test_get_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/424242")
    assert response.status_code == 404
    assert response.json() == {"detail": "User 424242 not found."}


async def test_update_changes_fields(client: httpx.AsyncClient) -> None:
    user = await create(client)
    response = await client.patch(f"/users/{user['id']}", json={"name": "Countess of Lovelace"})
    assert response.status_code == 200
    assert response.json()["name"] == "Countess of Lovelace"
    assert response.json()["email"] == ADA["email"]
    assert (await client.get(f"/users/{user['id']}")).json()["name"] == "Countess of Lovelace"


async def test_update_to_a_taken_email_is_409(client: httpx.AsyncClient) -> None:
    await create(client)
    grace = await create(client, email="grace@example.com", name="Grace")
    response = await client.patch(f"/users/{grace['id']}", json={"email": ADA["email"]})
    assert response.status_code == 409
    assert (await client.get(f"/users/{grace['id']}")).json()["email"] == "grace@example.com"


async def test_update_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.patch("/users/424242", json={"name": "X"})).status_code == 404
    assert (await client.patch("/users/424242", json={})).status_code == 404


async def test_delete_removes_the_user(client: httpx.AsyncClient) -> None:
    user = await create(client)
    assert (await client.delete(f"/users/{user['id']}")).status_code == 204
    assert (await client.get(f"/users/{user['id']}")).status_code == 404
    assert (await client.delete(f"/users/{user['id']}")).status_code == 404
