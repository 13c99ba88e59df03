"""The syncsqlite shim answers the calls SQLAlchemy's aiosqlite adapter makes, in each SQLAlchemy
version the package allows, the way aiosqlite itself does (each case runs on both)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from testsupport import sqlite_dialect


async def awaited(conn: Any) -> Any:
    """SQLAlchemy 2.0's adapter: ``await_(connection.cursor())`` (dialects/sqlite/aiosqlite.py)."""
    cursor = await conn.cursor()
    await cursor.execute("SELECT 1")
    rows = await cursor.fetchall()
    await cursor.close()
    return rows


async def entered(conn: Any) -> Any:
    """SQLAlchemy 2.1's adapter: ``await_(connection.cursor().__aenter__())`` (connectors/asyncio.py)."""
    cursor = await conn.cursor().__aenter__()
    await cursor.execute("SELECT 1")
    return await cursor.fetchall()


@pytest.mark.parametrize("use", [awaited, entered])
@pytest.mark.parametrize("connect", [aiosqlite.connect, sqlite_dialect._Connection], ids=["aiosqlite", "syncsqlite"])
def test_cursor_is_awaited_and_entered(
    tmp_path: Path, connect: Callable[[str], Any], use: Callable[[Any], Awaitable[Any]]
) -> None:
    async def run() -> Any:
        conn = await connect(str(tmp_path / "db.sqlite"))
        try:
            return await use(conn)
        finally:
            await conn.close()

    # No database fixture: a loop of its own, so the test does not need testsupport's session loop.
    assert asyncio.run(run()) == [(1,)]
