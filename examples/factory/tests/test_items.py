import pytest
from sqlalchemy import func, select

from notes_app.models import Item


async def test_1_handlers_commit_and_roll_back(client, db_session):
    # The handlers' commits are savepoints inside the test's transaction: rolled back after it.
    assert (await client.post("/items", json={"name": "a"})).status_code == 201
    assert (await client.post("/items", json={"name": "a"})).status_code == 409
    assert (await client.post("/items", json={"name": "b"})).status_code == 201
    assert (await client.get("/items")).json() == ["a", "b"]
    assert await db_session.scalar(select(func.count()).select_from(Item)) == 2


@pytest.mark.db(transaction=True)  # real commits: the database is put back after the test
async def test_2_the_app_sees_the_tests_commits(client, db_session):
    db_session.add(Item(name="mine"))
    await db_session.commit()
    assert (await client.get("/items")).json() == ["mine"]


async def test_3_nothing_is_left(client):
    assert (await client.get("/items")).json() == []


async def test_without_a_database(bare_client):
    # No database: runs on asyncio and trio.
    assert (await bare_client.get("/ping")).json() == {"ok": True}
