"""``sqlite+syncsqlite://``: SQLAlchemy's aiosqlite dialect with the sqlite3 calls made on the
event loop's own thread, for the tests' throwaway databases.

aiosqlite runs every sqlite3 call in a worker thread; SQLAlchemy's adapter makes several such
calls per statement, each a hop to the thread and back through the loop. For a local test file
that is most of a test's time. This dialect keeps SQLAlchemy's adapter (so every code path is the
one aiosqlite takes) and hands it an aiosqlite-shaped shim whose coroutines call sqlite3 directly
and finish without suspending. A statement then blocks the loop for microseconds: fine for a test
suite, wrong for a server, which is why the app keeps aiosqlite. The whole suite also passes on
aiosqlite: ``pytest --sqlite-driver=aiosqlite``.
"""

from __future__ import annotations

import sqlite3
import types
from collections.abc import Callable, Generator, Iterable
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi, SQLiteDialect_aiosqlite


class _Cursor:
    """aiosqlite.Cursor's interface over a sqlite3 cursor.

    ``aiosqlite.Connection.cursor()`` returns a ``Result`` that is both awaited and entered
    (aiosqlite/context.py): SQLAlchemy 2.0's adapter awaits it (``await_(connection.cursor())``),
    2.1's enters it (``await_(cursor.__aenter__())``, connectors/asyncio.py). The shim does both.
    """

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, _Cursor]:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> _Cursor:
        return self

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunNow:
    """Stands in for aiosqlite's request queue: runs the function at once, resolves the future."""

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # noqa: BLE001 - handed to the awaiting caller, as aiosqlite does
            future.set_exception(error)


class _Connection:
    """aiosqlite.Connection's interface over a sqlite3 connection on the caller's thread."""

    def __init__(self, database: str, **kwargs: Any) -> None:
        self._conn: sqlite3.Connection | None = sqlite3.connect(database, **kwargs)
        self._tx = _RunNow()
        self._thread = types.SimpleNamespace(daemon=True)  # SQLAlchemy marks aiosqlite's thread a daemon

    def __await__(self) -> Generator[Any, None, _Connection]:
        return self._opened().__await__()

    async def _opened(self) -> _Connection:
        return self

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        assert self._conn is not None
        return self._conn.isolation_level

    def cursor(self) -> _Cursor:
        assert self._conn is not None
        return _Cursor(self._conn.cursor())

    async def commit(self) -> None:
        assert self._conn is not None
        self._conn.commit()

    async def rollback(self) -> None:
        assert self._conn is not None
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        assert self._conn is not None
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_shim = types.ModuleType("testsupport_syncsqlite")
for _name in ("DatabaseError", "Error", "IntegrityError", "NotSupportedError", "OperationalError", "ProgrammingError"):
    setattr(_shim, _name, getattr(sqlite3, _name))
_shim.sqlite_version = sqlite3.sqlite_version  # type: ignore[attr-defined]
_shim.sqlite_version_info = sqlite3.sqlite_version_info  # type: ignore[attr-defined]
_shim.Connection = _Connection  # type: ignore[attr-defined]
_shim.connect = _Connection  # type: ignore[attr-defined]


class SQLiteDialect_syncsqlite(SQLiteDialect_aiosqlite):
    driver = "syncsqlite"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        return AsyncAdapt_aiosqlite_dbapi(_shim, sqlite3)


dialect = SQLiteDialect_syncsqlite
