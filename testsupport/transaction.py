"""Per-test isolation: every test runs inside one outer transaction that is rolled back.

The app's handlers commit and roll back as in production; with
``join_transaction_mode="create_savepoint"`` those become RELEASE and ROLLBACK TO SAVEPOINT, and
the outer transaction is rolled back at teardown, whether the test passed or failed.
https://docs.sqlalchemy.org/en/20/orm/session_transaction.html#joining-a-session-into-an-external-transaction-such-as-for-test-suites
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


@pytest.fixture
async def db_session(schema: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits are savepoints inside a transaction this fixture rolls back."""
    async with schema.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()
