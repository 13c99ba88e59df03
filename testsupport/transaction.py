"""Per-test isolation: every test runs inside one outer transaction that is rolled back.

The app's handlers commit and roll back as in production; their sessions (and `db_session`) join
the test's connection with ``join_transaction_mode="create_savepoint"``, so those become RELEASE
and ROLLBACK TO SAVEPOINT, and the outer transaction is rolled back at teardown, whether the test
passed or failed.
https://docs.sqlalchemy.org/en/20/orm/session_transaction.html#joining-a-session-into-an-external-transaction-such-as-for-test-suites
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from testsupport.net import test_connection


@pytest.fixture
async def db_connection(schema: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """This test's connection, inside a transaction rolled back at teardown; with
    ``@pytest.mark.db(transaction=True)`` a plain pooled connection, the tables emptied after."""
    async with test_connection(schema) as connection:  # testsupport.net: guarded, savepoint or real-commit
        yield connection


@pytest.fixture
async def db_session(
    db_connection: AsyncConnection, app_sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[AsyncSession]:
    """A session for the test's own reads and writes, made like the handlers' (`app_sessions`) on
    their connection: it sees what they committed, they see what it committed, and its commits are
    savepoints too."""
    session = app_sessions(bind=db_connection)
    try:
        yield session
    finally:
        await session.close()
