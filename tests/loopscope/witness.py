"""Records every event loop a test of each backend ran on (strong references: ids get reused)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from testsupport.guard import connection_loop
from testsupport.loop import current_loop

SEEN: dict[str, list[object]] = {}


def loops_seen(backend: str) -> list[object]:
    """Witness the running loop; return every distinct loop seen on this backend so far."""
    loop = current_loop()
    seen = SEEN.setdefault(backend, [])
    if not any(known is loop for known in seen):
        seen.append(loop)
    return seen


async def pooled_connection_loop(session: AsyncSession) -> object:
    """The loop on which the pool opened the connection this session is using."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return connection_loop(raw._connection_record)
