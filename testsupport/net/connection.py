"""The test's connection (db_connection's body) and the guard on its outer transaction.

Every way to end that transaction is refused at the line that does it:
- ``db_connection.commit()`` / ``.rollback()`` / ``.close()``: overridden on ``TestConnection``;
- the transaction object (``get_transaction().commit()``), ``run_sync(lambda c: c.commit())``, a
  session's ``connection().commit()``: all reach the dialect's ``do_commit`` / ``do_rollback``;
- ``COMMIT`` / ``ROLLBACK`` / ``END`` / ``ABORT`` / ``PREPARE TRANSACTION`` sent as SQL text: the
  dialect's ``do_execute``.
The three dialect methods are replaced on the test engine's dialect instance only (as
testsupport.engine's precompiled savepoints are), not through ConnectionEvents: a ConnectionEvents
listener switches on SQLAlchemy's per-statement event dispatch for the engines it covers. Statements
starting with S, I, U, D or W skip the check. ``RELEASE SAVEPOINT`` and ``ROLLBACK TO`` are left
alone: inside a transaction opened by BEGIN (both databases; SQLite through testsupport's BEGIN fix)
they never end it (https://www.sqlite.org/lang_savepoint.html, PostgreSQL's RELEASE SAVEPOINT).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from testsupport import cleanup
from testsupport.net.messages import OUTER_TRANSACTION, TestEngineMisuseError
from testsupport.net.record import Mode
from testsupport.net.state import NET

_ENDS = re.compile(
    r"(?:\s|--[^\n]*\n|/\*.*?\*/)*(COMMIT|END|ABORT|PREPARE\s+TRANSACTION|ROLLBACK(?!\s+(?:WORK\s+|TRANSACTION\s+)?TO\b))\b",
    re.IGNORECASE | re.DOTALL,
)
_PLAIN = frozenset("SIUDWsiudw")  # SELECT, INSERT, UPDATE, DELETE, WITH, SAVEPOINT: never checked
_GUARDED = "_testsupport_outer_transaction_guard"


class TestConnection(AsyncConnection):
    """`db_connection` in savepoint mode: its outer transaction belongs to testsupport."""

    __test__ = False
    armed = False

    async def commit(self) -> None:
        self._refuse("commit")
        await super().commit()

    async def rollback(self) -> None:
        self._refuse("rollback")
        await super().rollback()

    async def close(self) -> None:
        self._refuse("close")
        await super().close()

    def _refuse(self, what: str) -> None:
        if self.armed:
            NET.refuse(
                TestEngineMisuseError(
                    f"{NET.test_name} called `db_connection.{what}()` on its connection's outer transaction "
                    "(commit, rollback and close are testsupport's: it rolls that transaction back at teardown). "
                    "A commit would leave the test's rows in the database for every later test; after a rollback "
                    "or close the app's later writes would run outside it. Fix: commit and roll back through a "
                    "session (`db_session.commit()` is a savepoint release), or mark the test "
                    "`@pytest.mark.db(transaction=True)` for real commits, with the database restored afterwards."
                )
            )


def _ended(how: str) -> TestEngineMisuseError:
    return TestEngineMisuseError(
        f"{NET.test_name} ended its outer transaction with {how} ({NET.where()}): {OUTER_TRANSACTION}."
    )


def guard_outer_transaction(dialect: Dialect) -> None:
    """Refuse the ends of the test connection's outer transaction on ``dialect`` (the test engine's)."""
    if vars(dialect).get(_GUARDED):
        return
    commit, rollback = dialect.do_commit, dialect.do_rollback
    execute, execute_no_params = dialect.do_execute, dialect.do_execute_no_params

    def do_commit(dbapi_connection: Any) -> None:
        if dbapi_connection is NET.guarded:
            NET.refuse(_ended("a COMMIT (the transaction's commit(), or a sync connection's, through run_sync)"))
        commit(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        if dbapi_connection is NET.guarded:
            NET.refuse(_ended("a ROLLBACK (the transaction's rollback(), or a sync connection's, through run_sync)"))
        rollback(dbapi_connection)

    def check(statement: str, context: Any) -> None:
        if NET.guarded is not None and statement[:1] not in _PLAIN:
            ends = _ENDS.match(statement)
            if ends and getattr(getattr(context, "root_connection", None), "connection", None) is NET.guarded:
                NET.refuse(_ended(f"`{ends.group(1).upper()}` sent as SQL"))

    def do_execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        check(statement, context)
        execute(cursor, statement, parameters, context)

    def do_execute_no_params(cursor: Any, statement: str, context: Any = None) -> None:
        check(statement, context)
        execute_no_params(cursor, statement, context)

    vars(dialect).update(
        do_commit=do_commit,
        do_rollback=do_rollback,
        do_execute=do_execute,
        do_execute_no_params=do_execute_no_params,
        **{_GUARDED: True},
    )


@asynccontextmanager
async def test_connection(engine: AsyncEngine, connection: TestConnection | None) -> AsyncIterator[AsyncConnection]:
    """The test's connection. Savepoint mode: one connection, its outer transaction rolled back at
    teardown, any other use of the engine refused. Real-commit mode: a plain pooled connection, the
    app gets its own from the pool, and the database is put back afterwards (testsupport.cleanup). ``connection``: a
    ``TestConnection(engine)`` handed out before it was connected (savepoint mode only)."""
    dialect = engine.sync_engine.dialect
    NET.test_dialects.add(dialect)  # also a test engine not made by the `engine` fixture
    NET.current = dialect
    if NET.mode not in (Mode.SAVEPOINT, Mode.TRANSACTION):  # requested with getfixturevalue()
        NET.mode = Mode.SAVEPOINT
    if NET.mode is Mode.TRANSACTION:
        assert connection is None, "real-commit mode opens its connection at set-up"
        async with cleanup.restored(engine, NET.trusting), engine.connect() as pooled:
            yield pooled
        return
    guard_outer_transaction(dialect)
    NET.grants = 1
    if connection is None:
        connection = TestConnection(engine)
    async with connection:
        transaction = await connection.begin()
        connection.armed = True
        assert connection.sync_connection is not None  # connected by begin()
        NET.guarded = connection.sync_connection.connection  # the pool's proxy of the DBAPI connection
        try:
            yield connection
        finally:
            connection.armed, NET.guarded = False, None  # our own rollback and close are not misuse
            if transaction.is_active:
                await transaction.rollback()
            else:  # ended by a refused door, or by something else: do not hand its state to the next test
                await connection.invalidate()


test_connection.__test__ = False  # type: ignore[attr-defined]


def app_bind(connection: AsyncConnection) -> AsyncConnection | AsyncEngine:
    """What the app's sessionmaker is bound to in this test: the test's connection (savepoint
    mode), or the test engine, so concurrent requests get connections of their own (real commits)."""
    return connection.engine if NET.mode is Mode.TRANSACTION else connection
