"""Count the SQL statements a piece of test code causes: an N+1 guard.

    async def test_list_is_one_query(client, assert_max_queries):
        with assert_max_queries(1):
            await client.get("/users")

``count_queries`` records; ``assert_num_queries(n)`` / ``assert_max_queries(n)`` record and fail
with the statements, numbered, with their parameters where SQLAlchemy names them and the name is not
a secret's (``password``, ``token``, ...). Every statement on the test engine counts: the test's
own and the app's handlers' (they run on the test's connection, or its pool in real-commit mode).
Transaction control (BEGIN, SAVEPOINT, RELEASE, ROLLBACK TO) is recorded in ``statements`` but not
counted: in the tests a handler's commit is a RELEASE SAVEPOINT, in production a COMMIT.

``forbid_lazy_loads``: a relationship lazy load that would emit SQL fails the test, naming the
attribute, the object, the query that loaded the object and the SELECT it would have run
(``lazy="raise_on_sql"`` for every relationship, for that test).
https://docs.sqlalchemy.org/en/20/orm/queryguide/relationships.html#preventing-unwanted-lazy-loads-using-raiseload
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import InstanceState, Mapper, ORMExecuteState, QueryContext, Session
from sqlalchemy.orm.base import instance_state

from testsupport.redact import HIDDEN

_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")
# Parameter names whose values never reach a message (URLs with a password in any report are
# testsupport.redact's).
SECRET = re.compile(r"pass|pwd|secret|token|key|hash|salt|credential|auth|otp|pin(_|$)", re.IGNORECASE)
_SHOWN_SETS = 3  # of an executemany
_SHOWN_CHARS = 80  # of one value


def shown_parameters(connection: Connection, context: ExecutionContext | None) -> str:
    """The statement's parameters for a message: by SQLAlchemy's bind names, a secret's masked;
    none for driver-level SQL (no names to judge by) or an engine made with ``hide_parameters``."""
    if connection.engine.hide_parameters:
        return "hidden (the engine's hide_parameters)"
    compiled = getattr(context, "compiled", None)
    sets: list[dict[str, Any]] = getattr(context, "compiled_parameters", None) or []
    if compiled is None:
        return "hidden (driver-level SQL: no parameter names to tell a secret by)"
    if not any(sets):
        return ""

    def one(values: dict[str, Any]) -> str:
        items = []
        for name, value in values.items():
            text = repr(HIDDEN) if SECRET.search(name) else repr(value)
            items.append(f"{name}={text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + '...'}")
        return "{" + ", ".join(items) + "}"

    rendered = ", ".join(one(values) for values in sets[:_SHOWN_SETS])
    return rendered + (f", ... ({len(sets)} sets)" if len(sets) > _SHOWN_SETS else "")


@dataclass
class Queries:
    statements: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)  # per statement, as shown in messages

    def _counted(self) -> list[int]:
        return [i for i, s in enumerate(self.statements) if not s.lstrip().upper().startswith(_CONTROL)]

    @property
    def work(self) -> list[str]:
        """The statements that are not transaction control."""
        return [self.statements[i] for i in self._counted()]

    @property
    def count(self) -> int:
        return len(self._counted())

    def listing(self) -> str:
        """The counted statements, numbered, each with its parameters."""
        lines = []
        for number, index in enumerate(self._counted(), 1):
            lines.append(f"{number}. {' '.join(self.statements[index].split())}")
            if self.parameters[index]:
                lines.append(f"   parameters: {self.parameters[index]}")
        return "\n".join(lines)


@pytest.fixture
def count_queries(schema: AsyncEngine) -> Callable[[], AbstractContextManager[Queries]]:
    """A context manager factory that records the statements run on the test engine."""

    @contextmanager
    def counting() -> Iterator[Queries]:
        queries = Queries()

        def record(conn: Connection, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
            queries.statements.append(statement)
            queries.parameters.append(shown_parameters(conn, context))

        event.listen(schema.sync_engine, "before_cursor_execute", record)
        try:
            yield queries
        finally:
            event.remove(schema.sync_engine, "before_cursor_execute", record)

    return counting


class QueryAssertion:
    """``with`` or ``async with``: records the block's statements, and when it ends without an
    error of its own, fails unless their count is right."""

    def __init__(self, counting: AbstractContextManager[Queries], expected: int, exact: bool) -> None:
        self._counting, self.expected, self.exact = counting, expected, exact
        self.queries = Queries()

    def __enter__(self) -> Queries:
        self.queries = self._counting.__enter__()
        return self.queries

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        __tracebackhide__ = True
        self._counting.__exit__(kind, error, tb)
        if kind is not None:
            return  # the block's own error says more
        count = self.queries.count
        if count == self.expected or (not self.exact and count < self.expected):
            return
        wanted = f"{self.expected}" if self.exact else f"at most {self.expected}"
        raise AssertionError(
            f"expected {wanted} {_queries(self.expected)}, {count} ran (transaction control not counted):\n"
            + (self.queries.listing() or "(none)")
        )

    async def __aenter__(self) -> Queries:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        __tracebackhide__ = True
        self.__exit__(kind, error, tb)


def _queries(n: int) -> str:
    return "query" if n == 1 else "queries"


@pytest.fixture
def assert_num_queries(count_queries: Callable[[], AbstractContextManager[Queries]]) -> Callable[[int], QueryAssertion]:
    """``with assert_num_queries(n):`` fails unless the block runs exactly n statements (not
    counting transaction control), listing them."""
    return lambda expected: QueryAssertion(count_queries(), expected, exact=True)


@pytest.fixture
def assert_max_queries(count_queries: Callable[[], AbstractContextManager[Queries]]) -> Callable[[int], QueryAssertion]:
    """``with assert_max_queries(n):`` fails if the block runs more than n statements (not
    counting transaction control), listing them."""
    return lambda expected: QueryAssertion(count_queries(), expected, exact=False)


class LazyLoadError(AssertionError):
    """A relationship was lazy-loaded in a test that forbids it (``forbid_lazy_loads``)."""


# While forbid_lazy_loads is on: the query that loaded each object, for the message.
_loaded_by: weakref.WeakKeyDictionary[InstanceState[Any], str] = weakref.WeakKeyDictionary()


def _flat(sql: object) -> str:
    return " ".join(str(sql).split())


def _record_load(target: object, context: QueryContext) -> None:
    _loaded_by[instance_state(target)] = _flat(context.query)


def _refuse_lazy_load(state: ORMExecuteState) -> None:
    parent = state.lazy_loaded_from
    if parent is None:  # not a lazy load (selectin and joined eager loads have none)
        return
    path = state.loader_strategy_path
    attribute = str(path[-1]) if path is not None and len(path) else "a relationship"
    loaded = _loaded_by.get(parent)
    raise LazyLoadError(
        f"lazy load of {attribute} on {parent.object!r}"
        + (f" (loaded by: {loaded})" if loaded else "")
        + f": one more query per object (an N+1). It would have run: {_flat(state.statement)}. Fix: load it "
        f"with the query that loads the objects, e.g. .options(selectinload({attribute})), or use "
        "forbid_lazy_loads only where lazy loads are a bug."
    )


@pytest.fixture
def forbid_lazy_loads() -> Iterator[None]:
    """For this test, any relationship lazy load that would emit SQL raises ``LazyLoadError`` (the
    app's too): SQLAlchemy's ``raise_on_sql`` on every relationship. Opt in per test
    (``@pytest.mark.usefixtures("forbid_lazy_loads")``) or for a whole suite (an autouse fixture of
    yours requesting it)."""
    event.listen(Session, "do_orm_execute", _refuse_lazy_load)
    event.listen(Mapper, "load", _record_load)  # every mapper's instances
    try:
        yield
    finally:
        event.remove(Mapper, "load", _record_load)
        event.remove(Session, "do_orm_execute", _refuse_lazy_load)
        _loaded_by.clear()
