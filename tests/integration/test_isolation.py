"""Rows committed in one test are gone in the next, on both databases, whatever the order.

Every round starts by asserting an empty table and then commits rows three ways: through a
handler (which commits and rolls back itself), through the test's own session, and after a
handled IntegrityError. Without the SQLite BEGIN fix (service.db) the second round finds rows.
"""

from __future__ import annotations

import textwrap

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.models import User
from tests.inner import run_inprocess
from tests.service_suite import use_service


@pytest.mark.parametrize("round_", range(3))
async def test_each_test_starts_empty(client: httpx.AsyncClient, db_session: AsyncSession, round_: int) -> None:
    # The app goes first: the test's own session must not be what puts the connection in a savepoint.
    assert (await client.get("/users")).json()["items"] == []
    assert (await client.post("/users", json={"email": "a@example.com", "name": "A"})).status_code == 201
    assert (await client.post("/users", json={"email": "a@example.com", "name": "A"})).status_code == 409
    assert (await client.post("/users", json={"email": "b@example.com", "name": "B"})).status_code == 201
    db_session.add(User(email=f"direct{round_}@example.com", name="D"))
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(User)) == 3


@pytest.fixture
def connected_at_setup(db_connection: AsyncConnection) -> bool:
    # A plain fixture sees the connection before the test runs.
    return db_connection.sync_connection is not None


async def test_the_transaction_opens_in_the_tests_own_call(
    db_connection: AsyncConnection, db_session: AsyncSession, connected_at_setup: bool
) -> None:
    # No async fixture needs the connection: it is connected and begun in the test's own runner
    # call (no extra hand-offs through anyio's runner), and the test's session is bound to it.
    assert not connected_at_setup
    assert db_connection.in_transaction()
    assert db_session.bind is db_connection
    assert await db_session.scalar(select(func.count()).select_from(User)) == 0


@pytest.fixture
async def seeded_user(client: httpx.AsyncClient) -> int:
    # An async fixture that writes through the app before the test body runs.
    created = await client.post("/users", json={"email": "seed@example.com", "name": "Seed"})
    assert created.status_code == 201, created.text
    user_id: int = created.json()["id"]
    return user_id


@pytest.mark.parametrize("round_", range(2))
async def test_an_async_fixture_writes_inside_the_transaction(
    seeded_user: int, db_session: AsyncSession, db_connection: AsyncConnection, round_: int
) -> None:
    # Opened at set-up for the fixture; each round sees only its own row.
    assert db_connection.in_transaction()
    assert await db_session.scalar(select(func.count()).select_from(User)) == 1
    assert (await db_session.get(User, seeded_user)) is not None


INNER_SUITE = textwrap.dedent(
    """
    import httpx
    import pytest
    from sqlalchemy import func, select, text
    from service.models import User

    async def count(db_session):
        return await db_session.scalar(select(func.count()).select_from(User))

    async def test_1_commits_then_fails_mid_transaction(client, db_session):
        assert await count(db_session) == 0
        assert (await client.post("/users", json={"email": "a@example.com", "name": "A"})).status_code == 201
        await db_session.execute(text("SAVEPOINT half_done"))
        db_session.add(User(email="b@example.com", name="B"))
        await db_session.flush()
        raise RuntimeError("failing on purpose, mid-transaction")

    async def test_2_starts_empty(client, db_session):
        assert await count(db_session) == 0
        assert (await client.get("/users")).json()["items"] == []

    @pytest.fixture
    async def committed_user(client):
        # An async fixture that writes: the transaction is opened at set-up for this test.
        assert (await client.post("/users", json={"email": "c@example.com", "name": "C"})).status_code == 201

    async def test_3_fixture_commits_then_test_fails(committed_user, db_session):
        assert await count(db_session) == 1
        raise RuntimeError("failing on purpose, after a fixture's commit")

    async def test_4_starts_empty(client, db_session):
        assert await count(db_session) == 0
    """
)


def test_a_failing_test_leaves_nothing_behind(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database: str, database_url: str
) -> None:
    # database_url: the outer run checks the target first, so a bad TEST_POSTGRES_URL stops it once
    # here instead of failing inside the inner run. In process (tests/inner.py): a subprocess costs
    # an interpreter and its imports; --tb=native: pytest's own style parses every frame's source.
    use_service(pytester)
    pytester.makepyfile(test_inner=INNER_SUITE)
    result = run_inprocess(pytester, monkeypatch, "--tb=native", "-k", database)
    # 24 inner items: the other targets (16) and trio x database (4) are deselected.
    result.assert_outcomes(passed=2, failed=2, deselected=20)
    result.stdout.fnmatch_lines(
        ["*RuntimeError: failing on purpose, mid-transaction*", "*RuntimeError: failing on purpose, after a fixture*"]
    )
