"""Count the SQL statements a piece of test code causes: an N+1 guard.

    async def test_list_is_one_query(client, count_queries):
        with count_queries() as queries:
            await client.get("/users")
        assert queries.count == 1

Transaction control (BEGIN, SAVEPOINT, RELEASE, ROLLBACK TO) is recorded in ``statements`` but not
counted: in the tests a handler's commit is a RELEASE SAVEPOINT, in production a COMMIT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")


@dataclass
class Queries:
    statements: list[str] = field(default_factory=list)

    @property
    def work(self) -> list[str]:
        """The statements that are not transaction control."""
        return [s for s in self.statements if not s.lstrip().upper().startswith(_CONTROL)]

    @property
    def count(self) -> int:
        return len(self.work)


@pytest.fixture
def count_queries(schema: AsyncEngine) -> Callable[[], AbstractContextManager[Queries]]:
    """A context manager factory that records the statements run on the test engine."""

    @contextmanager
    def counting() -> Iterator[Queries]:
        queries = Queries()

        def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            queries.statements.append(statement)

        event.listen(schema.sync_engine, "before_cursor_execute", record)
        try:
            yield queries
        finally:
            event.remove(schema.sync_engine, "before_cursor_execute", record)

    return counting
