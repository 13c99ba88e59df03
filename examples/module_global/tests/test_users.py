import anyio
import pytest
from sqlalchemy import func, select

from app.models import User


async def test_1_handlers_commit_and_roll_back(client, db_session, assert_max_queries):
    # The handlers' commits are savepoints inside the test's transaction: rolled back after it.
    assert (await client.post("/users", json={"email": "a@x"})).status_code == 201
    assert (await client.post("/users", json={"email": "a@x"})).status_code == 409
    with assert_max_queries(1):  # the listing is one SELECT, however many users
        assert (await client.get("/users")).json() == ["a@x"]
    assert await db_session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.db(transaction=True)  # real commits: concurrent requests race on connections of their own
async def test_2_one_of_two_concurrent_signups_wins(client):
    assert (await client.get("/users")).json() == []  # test 1's rows were rolled back
    statuses = []

    async def sign_up():
        statuses.append((await client.post("/users", json={"email": "b@x"})).status_code)

    async with anyio.create_task_group() as group:
        group.start_soon(sign_up)
        group.start_soon(sign_up)
    assert sorted(statuses) == [201, 409]


async def test_without_a_database(bare_client):
    # No database: runs on asyncio and trio.
    assert (await bare_client.get("/ping")).json() == {"ok": True}
