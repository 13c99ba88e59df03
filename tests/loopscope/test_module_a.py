"""One event loop per backend for the whole session, across modules and database targets.

test_module_b.py collects these same tests again: together they see every block
(asyncio without a database, asyncio x sqlite, asyncio x postgres, trio) from two modules.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.loopscope.witness import loops_seen, pooled_connection_loop
from testsupport.loop import current_loop


@pytest.mark.parametrize("repeat", range(2))
async def test_without_database_all_tests_share_one_loop(anyio_backend: str, repeat: int) -> None:
    assert len(loops_seen(anyio_backend)) == 1


@pytest.mark.parametrize("repeat", range(2))
async def test_with_database_the_pool_was_opened_on_this_loop(
    anyio_backend: str, db_session: AsyncSession, repeat: int
) -> None:
    assert len(loops_seen(anyio_backend)) == 1
    # The pooled connection was first opened by the session-scoped `schema` fixture: so the
    # session fixtures ran on this very loop too.
    assert await pooled_connection_loop(db_session) is current_loop()
