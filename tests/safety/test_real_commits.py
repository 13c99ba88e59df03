"""Real-commit mode (``@pytest.mark.db(transaction=True)``): the app gets connections of its own from
the test engine's pool, so concurrent requests really race, commits are real, and the database is
put back to the migrated template after the test (the service seeds nothing: its tables are empty
again; seeded rows: tests/testdata/test_restore.py). The next test finds them empty: checked in an
inner run, whose order is fixed (in this run xdist sends each test to whichever worker is free)."""

from __future__ import annotations

import textwrap

import anyio
import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.models import Note, User
from tests.inner import run_inprocess
from tests.service_suite import use_service
from testsupport.cleanup import restore

CONCURRENT = 20


@pytest.mark.db(transaction=True)
async def test_concurrent_creates_of_one_email_one_wins(
    client: httpx.AsyncClient, db_connection: AsyncConnection
) -> None:
    statuses: list[int] = []

    async def create() -> None:
        response = await client.post("/users", json={"email": "race@example.com", "name": "R"})
        statuses.append(response.status_code)

    async with anyio.create_task_group() as group:
        for _ in range(CONCURRENT):
            group.start_soon(create)
    assert sorted(statuses) == [201] + [409] * (CONCURRENT - 1)
    user = (await client.get("/users")).json()["items"][0]
    assert (await client.post(f"/users/{user['id']}/notes", json={"title": "kept"})).status_code == 201
    # Committed for real: the test's own connection (not in any transaction) sees the rows.
    assert await db_connection.scalar(select(func.count()).select_from(User)) == 1
    assert await db_connection.scalar(select(func.count()).select_from(Note)) == 1


@pytest.mark.db(transaction=True)
async def test_the_tests_own_commits_are_real_too(db_session: AsyncSession, db_connection: AsyncConnection) -> None:
    db_session.add(User(email="own@example.com", name="O"))
    await db_session.commit()
    assert await db_connection.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.db(transaction=True)
async def test_the_restore_sets_the_ids_back_and_keeps_alembic_version(
    client: httpx.AsyncClient, db_connection: AsyncConnection
) -> None:
    for email in ("a@example.com", "b@example.com"):
        assert (await client.post("/users", json={"email": email, "name": "A"})).status_code == 201
    await restore(db_connection.engine)  # what runs after the test, here in the middle of it
    assert (await client.get("/users")).json()["items"] == []
    created = await client.post("/users", json={"email": "c@example.com", "name": "C"})
    assert created.json()["id"] == 1  # the sequence (PostgreSQL) where the template had it
    assert await db_connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1


# Each file: real commits, then the test after it. Files run in name order, tests in file order.
AFTER_REAL_COMMITS = {
    "test_a_per_test": textwrap.dedent(
        """
        import pytest
        from sqlalchemy import func, select
        from service.models import Note, User

        @pytest.mark.db(transaction=True)
        async def test_commits(client):
            user = await client.post("/users", json={"email": "kept@example.com", "name": "K"})
            assert user.status_code == 201
            note = await client.post(f"/users/{user.json()['id']}/notes", json={"title": "kept"})
            assert note.status_code == 201

        async def test_the_next_savepoint_test_finds_the_tables_empty(db_session):
            assert await db_session.scalar(select(func.count()).select_from(User)) == 0
            assert await db_session.scalar(select(func.count()).select_from(Note)) == 0
        """
    ),
    "test_b_module": textwrap.dedent(
        """
        import pytest
        from service.models import User

        pytestmark = pytest.mark.db(transaction=True)

        async def test_a_commit(db_session):
            db_session.add(User(email="module@example.com", name="M"))
            await db_session.commit()

        async def test_b_and_the_next_test_starts_empty(client):
            assert (await client.get("/users")).json()["items"] == []
        """
    ),
}


def test_the_test_after_real_commits_finds_the_tables_empty(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database: str, database_url: str
) -> None:
    # database_url: the outer run checks the target first (a bad TEST_POSTGRES_URL stops it once).
    use_service(pytester)
    pytester.makepyfile(**AFTER_REAL_COMMITS)
    result = run_inprocess(pytester, monkeypatch, "-v", "-k", database)
    result.assert_outcomes(passed=4, deselected=20)  # the other targets, trio x database
    result.stdout.fnmatch_lines(
        [
            "*test_a_per_test.py::test_commits*PASSED*",
            "*test_a_per_test.py::test_the_next_savepoint_test_finds_the_tables_empty*PASSED*",
            "*test_b_module.py::test_a_commit*PASSED*",
            "*test_b_module.py::test_b_and_the_next_test_starts_empty*PASSED*",
        ]
    )
