"""The net's state (which test runs, in which mode and phase, which engines exist) and its one
decision: may this connection be opened or checked out now?"""

from __future__ import annotations

import enum
import functools
import inspect
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from testsupport.net.messages import (
    FIX_CONFIGURATION,
    FIX_OWN_ENGINE,
    MIGRATIONS,
    OUTSIDE,
    REAL_COMMITS,
    STALE_ENGINE,
    USE_DATABASE,
    DatabaseBlockedError,
    ForeignEngineError,
    NetError,
    TestEngineMisuseError,
)
from testsupport.net.where import actor, code_site, creation_site, unrecorded_engine

if TYPE_CHECKING:
    import pytest

# Fixtures of these modules build the test databases (`database_url`, `postgres_url`, ...) and the
# test engine (`engine`, `schema`): trusted with both.
TRUSTED_MODULES = ("testsupport.databases", "testsupport.engine")
# Trusted wherever defined: a project may override `schema` to migrate its own way.
TRUSTED_FIXTURES = frozenset({"schema"})
# The engine the fixture of this name (in a trusted module) creates is the test engine.
TEST_ENGINE_FIXTURE = "engine"
# Refusals kept for the reports (a thread writing in a loop is refused thousands of times).
KEPT = 5


class Mode(enum.Enum):
    IDLE = "idle"  # no test: start-up, collection, between tests
    BLOCKED = "blocked"  # a test that did not ask for the database
    OWN = "own"  # a test that requests `database` but not `db_connection`: its own engines
    SAVEPOINT = "savepoint"  # db_connection: one connection, one outer transaction rolled back
    TRANSACTION = "transaction"  # db_connection with @pytest.mark.db(transaction=True): real commits


class Stage(enum.Enum):
    IMPORT = "start-up (the import of the project's modules, conftest.py files and test modules)"
    SETUP = "the set-up of {test}"
    CALL = "{test}"
    TEARDOWN = "the teardown of {test}"
    BETWEEN = "the time between two tests"
    END = "the end of the session"


@dataclass(frozen=True)
class EngineInfo:
    url: str
    where: str
    test: int  # serial number of the test that created it (0: outside any test)


@dataclass(frozen=True, eq=False)  # compared by identity: a set-up and its teardown are two entries
class Fixture:
    """A wider-scoped fixture being set up or torn down (function-scoped ones are the test's)."""

    name: str
    scope: str
    trusted: bool
    teardown: bool = False


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
class Net:
    engines: weakref.WeakKeyDictionary[Dialect, EngineInfo] = field(default_factory=weakref.WeakKeyDictionary)
    test_dialects: weakref.WeakSet[Dialect] = field(default_factory=weakref.WeakSet)
    refusing: weakref.WeakSet[Dialect] = field(default_factory=weakref.WeakSet)
    mode: Mode = Mode.IDLE
    stage: Stage = Stage.IMPORT
    test: int = 0  # serial of the running test
    test_name: str = ""
    item: Any = None  # the running pytest item (its function tells the test's own task apart)
    fixtures: list[Fixture] = field(default_factory=list)
    trusted: int = 0
    current: Dialect | None = None  # the running test's engine
    grants: int = 0  # checkouts of the test engine allowed in savepoint mode
    guarded: object = None  # the test connection's DBAPI connection while its outer transaction is the test's
    migrating: Dialect | None = None  # while the schema is built: the engine of the connection handed over
    refused: list[NetError] = field(default_factory=list)  # refusals not yet reported (the first KEPT)
    refusals: int = 0  # ... and how many in all
    active: bool = False  # the listeners stay on after uninstall: they check this

    # -- what the hooks and fixtures tell it -------------------------------------------------

    def begin_test(self, item: pytest.Item, mode: Mode) -> None:
        self.test += 1
        self.test_name, self.item, self.mode, self.stage = item.nodeid, item, mode, Stage.SETUP
        self.current, self.grants, self.guarded = None, 0, None

    def end_test(self) -> None:
        self.mode, self.stage, self.item = Mode.IDLE, Stage.BETWEEN, None
        self.current, self.grants, self.guarded = None, 0, None

    @contextmanager
    def trusting(self) -> Iterator[None]:
        self.trusted += 1
        try:
            yield
        finally:
            self.trusted -= 1

    @contextmanager
    def app_lifespan(self, engine: Engine | None) -> Iterator[None]:
        """The app's lifespan starting or stopping (`running_app`): the test engine as in a
        real-commit test (its work committed into the session's database), any other engine
        refused as in a database test. Without an engine (`running_bare_app`), every one refused.
        Judged as a test, not as the session fixture that runs it."""
        saved = self.mode, self.current, self.test_name, self.fixtures, self.stage
        self.stage = Stage.CALL  # "during the app's lifespan"
        if engine is None:
            self.mode, self.test_name = Mode.BLOCKED, "the app's lifespan, started for `bare_client` (no database),"
        else:
            self.mode, self.current, self.test_name = Mode.TRANSACTION, engine.dialect, "the app's lifespan"
        self.fixtures = []
        try:
            yield
        finally:
            self.mode, self.current, self.test_name, self.fixtures, self.stage = saved

    def snapshot(self) -> Net:
        """The per-run part, for an inline pytester run inside this one (it restores it at its end)."""
        return replace(self, fixtures=list(self.fixtures), refused=list(self.refused))

    def restore(self, saved: Net) -> None:
        for name in ("mode", "stage", "test_name", "item", "fixtures", "trusted", "current", "grants", "guarded"):
            setattr(self, name, getattr(saved, name))
        self.migrating, self.refused, self.refusals = saved.migrating, saved.refused, saved.refusals

    # -- engines -----------------------------------------------------------------------------

    def seen(self, engine: Engine) -> None:
        """An engine was created: remember its URL and where, and whether it is the test engine."""
        if engine.dialect in self.engines:  # the hook runs twice when a dialect names another class
            return
        # Built by the running test itself (its body or a function-scoped fixture), not shared.
        own = self.mode is not Mode.IDLE and not self.fixtures
        self.engines[engine.dialect] = EngineInfo(
            engine.url.render_as_string(hide_password=True), creation_site(), self.test if own else 0
        )
        if self.fixtures and self.fixtures[-1].name == TEST_ENGINE_FIXTURE and self.fixtures[-1].trusted:
            self.test_dialects.add(engine.dialect)

    def mark_refusing(self, engine: AsyncEngine) -> None:
        """An engine that refuses every connection with a message of its own (`refusing_engine`)."""
        self.refusing.add(engine.sync_engine.dialect)

    def describe(self, dialect: Dialect) -> str:
        info = self.engines.get(dialect)
        if info is None:
            return f"{unrecorded_engine(dialect)}, created before testsupport was configured"
        return f"the engine for {info.url}, created at {info.where}"

    def _stale(self, dialect: Dialect) -> str:
        return "" if dialect in self.engines else " " + STALE_ENGINE

    def phase(self) -> str:
        if self.fixtures:
            fixture = self.fixtures[-1]
            step = "teardown" if fixture.teardown else "set-up"
            return f"the {step} of {fixture.scope}-scoped fixture `{fixture.name}`"
        return self.stage.value.format(test=self.test_name)

    def where(self) -> str:
        """'at SITE, in thread X, during PHASE': the code that used the engine, and when."""
        test = getattr(self.item, "obj", None)  # wrapped while it runs (testsupport.transaction, .interrupt)
        test_code = getattr(inspect.unwrap(test), "__code__", None) if test is not None else None
        who = actor(test_code)
        return f"at {code_site()}{', in ' + who if who else ''}, during {self.phase()}"

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
