"""Real-commit mode for a whole module: ``pytestmark = pytest.mark.db(transaction=True)`` (that the
next test starts empty: tests/safety/test_real_commits.py, in a run of fixed order)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.models import User

pytestmark = pytest.mark.db(transaction=True)


async def test_a_commit_in_the_test_is_seen_by_the_apps_own_connection(
    client: httpx.AsyncClient, db_session: AsyncSession, db_connection: AsyncConnection
) -> None:
    assert not db_connection.in_transaction()  # no outer transaction: the module's marker took effect
    db_session.add(User(email="module@example.com", name="M"))
    await db_session.commit()
    # The app's session has a connection of its own from the pool: it sees only what was committed.
    assert [user["email"] for user in (await client.get("/users")).json()["items"]] == ["module@example.com"]
