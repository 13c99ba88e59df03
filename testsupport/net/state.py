"""The net's one decision: may this connection be opened or checked out now? On top of what it
records (``record.Record``: the running test, its mode and phase, the engines)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy.engine import Connection, Dialect

from testsupport.net.messages import (
    FIX_CONFIGURATION,
    FIX_OWN_ENGINE,
    MIGRATIONS,
    OUTSIDE,
    REAL_COMMITS,
    USE_DATABASE,
    DatabaseBlockedError,
    ForeignEngineError,
    NetError,
    TestEngineMisuseError,
)
from testsupport.net.record import Mode, Record

# Refusals kept for the reports (a thread writing in a loop is refused thousands of times).
KEPT = 5

_ALLOWED: ContextVar[bool] = ContextVar("testsupport_allow_other_engines", default=False)


@contextmanager
def allow_other_engines() -> Iterator[None]:
    """Let the code inside (and the tasks and `anyio.to_thread` calls it starts) use engines other
    than the test's where the net would refuse them: outside the tests, or in a test that did not
    ask for the database (like pytest-django's ``django_db_blocker.unblock()``). The test engine
    stays guarded. Wrap the code that must, never a fixture's ``yield``."""
    token = _ALLOWED.set(True)
    try:
        yield
    finally:
        _ALLOWED.reset(token)


@dataclass
class Net(Record):
    """What the net records, and its decision on each connection opened or checked out."""

    # -- the decision ------------------------------------------------------------------------

    def check(self, dialect: Dialect, consume: bool) -> NetError | None:
        """None if this connection may be opened / checked out now, else the error to raise."""
        if self.migrating is not None and dialect is not self.migrating:
            return self._migrations(dialect)
        if dialect in self.test_dialects:
            return self._check_test_engine(dialect, consume)
        if self.trusted or _ALLOWED.get():
            return None
        if dialect in self.refusing:  # it raises its own message, except in a blocked test
            return self._blocked(dialect) if self.mode is Mode.BLOCKED else None
        if self.mode is Mode.IDLE or self.fixtures:
            return self._outside(dialect)
        if self.mode is Mode.OWN:
            return None
        info = self.engines.get(dialect)
        if self.mode is Mode.BLOCKED:
            if info is not None and info.test == self.test:
                return None  # an engine this test built itself: its own business
            return self._blocked(dialect)
        fix = FIX_OWN_ENGINE if info is not None and info.test == self.test else FIX_CONFIGURATION
        return ForeignEngineError(
            f"{self.test_name} uses testsupport's database, but a connection was opened on "
            f"{self.describe(dialect)} ({self.where()}). That is not the test's engine: its reads and writes go "
            f"to another database, outside the test's transaction, and are never rolled back. Fix: {fix}."
            + self._stale(dialect)
        )

    def _check_test_engine(self, dialect: Dialect, consume: bool) -> NetError | None:
        if self.trusted:
            return None
        if dialect is self.current and not self.fixtures:
            if self.mode is Mode.TRANSACTION:
                return None
            if self.mode is Mode.SAVEPOINT and self.grants > 0:
                if consume:
                    self.grants -= 1
                return None
            if self.mode is Mode.SAVEPOINT:
                return TestEngineMisuseError(
                    f"{self.test_name} checked out a second connection from the test "
                    f"engine ({self.describe(dialect)}) in savepoint mode ({self.where()}), e.g. `async with "
                    "engine.begin()` in the test, or app code using the engine instead of the sessionmaker it was "
                    "given. That connection is outside the test's transaction: its writes would be committed and "
                    f"leak into later tests. Fix: {REAL_COMMITS}."
                )
        who = f"fixture `{self.fixtures[-1].name}`" if self.fixtures else (self.test_name or "code outside any test")
        return TestEngineMisuseError(
            f"{who} used the test engine ({self.describe(dialect)}) outside any test's transaction "
            f"({self.where()}): what it writes is committed for real and leaks into every later test. Fix: "
            f"{REAL_COMMITS}; for data every test needs, a function-scoped fixture that writes through `db_session`."
        )

    def _blocked(self, dialect: Dialect) -> NetError:
        used = (
            "the app's sessionmaker, which outside the `app` fixture is bound to no database (`refusing_engine`)"
            if dialect in self.refusing
            else self.describe(dialect)
        )
        return DatabaseBlockedError(
            f"{self.test_name} did not ask for the database, but it used {used} ({self.where()}). Database access "
            "is blocked in tests that do not request it, so nothing reaches a database no test set up. Fix: "
            f"{USE_DATABASE}." + self._stale(dialect)
        )

    def _outside(self, dialect: Dialect) -> NetError:
        return DatabaseBlockedError(
            f"{self.describe(dialect)} was used {self.where()}, outside any test that asked for the database. Only "
            "testsupport's own fixtures may reach a database there: anything else is written for real, outside "
            f"every test's transaction, and never rolled back. Fix: {OUTSIDE}." + self._stale(dialect)
        )

    def _migrations(self, dialect: Dialect) -> NetError:
        building = self.engines.get(self.migrating) if self.migrating is not None else None
        return ForeignEngineError(
            f"While testsupport built the test schema on {building.url if building else 'the test database'}, "
            f"{self.describe(dialect)} was opened ({self.where()}): the migrations (Alembic's env.py, or code it "
            "imports) built an engine of their own, so they would migrate that database, not the test's. Refused "
            f"before it connected: nothing was written there. Fix: {MIGRATIONS}."
        )

    # -- refusing ----------------------------------------------------------------------------

    def refuse(self, error: NetError) -> NoReturn:
        """Raise ``error`` here, and keep it for the report: code in another thread or task, or code
        that catches it, would otherwise hide it."""
        if len(self.refused) < KEPT:
            self.refused.append(error)
        self.refusals += 1
        raise error

    def take(self) -> tuple[list[NetError], int]:
        refused, count = self.refused, self.refusals
        self.refused, self.refusals = [], 0
        return refused, count

    def on_do_connect(self, dialect: Dialect, *_: Any) -> None:
        if self.active:
            error = self.check(dialect, consume=False)
            if error is not None:
                self.refuse(error)

    def on_checkout(self, _dbapi: Any, _record: Any, proxy: Any) -> None:
        # A class-level pool listener sees every pool, also one an engine filled before the net was
        # installed; the checkout event carries no engine, so the dialect comes from the pool
        # (create_engine sets `pool._dialect`, sqlalchemy/engine/create.py).
        if self.active:
            dialect = getattr(getattr(proxy, "_pool", None), "_dialect", None)
            error = self.check(dialect, consume=True) if isinstance(dialect, Dialect) else None
            if error is not None:
                self.refuse(error)  # the pool takes the connection back


NET = Net()


def migrating(migrate: Callable[[Connection], None]) -> Callable[[Connection], None]:
    """``migrate`` run with every engine but the handed connection's refused before it connects: an
    env.py that builds its own engine from sqlalchemy.url would migrate (and write into) that database."""

    @functools.wraps(migrate)
    def run(connection: Connection) -> None:
        previous, NET.migrating = NET.migrating, connection.engine.dialect
        try:
            migrate(connection)
        finally:
            NET.migrating = previous

    return run
