"""What the net records: which test runs, in which mode and phase, which wider-scoped fixture is
being set up, which engines exist and where they were created; and how its messages name them.
The decision on a connection is ``state.Net``'s, on top of this."""

from __future__ import annotations

import enum
import inspect
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from testsupport.net.messages import STALE_ENGINE, NetError
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


@dataclass
class Record:
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
    refused: list[NetError] = field(default_factory=list)  # refusals not yet reported (the first state.KEPT)
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

    def snapshot(self) -> Self:
        """The per-run part, for an inline pytester run inside this one (it restores it at its end)."""
        return replace(self, fixtures=list(self.fixtures), refused=list(self.refused))

    def restore(self, saved: Self) -> None:
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
