"""After a real-commit test (``@pytest.mark.db(transaction=True)``): the database put back to the
migrated template (and what the app's lifespan wrote at start-up), in place.

The first real-commit test of a session (per engine) snapshots the database before its body runs,
when it still is that state (every earlier test was rolled back or restored): the rows of every
table that has any (what the migrations seeded, ``alembic_version`` too). The sequences' positions
are read earlier (``remember_counters``, from the ``testsupport_sequences`` fixture, before any
test: savepoint tests move them, ``nextval`` is never rolled back). After each real-commit test
one query compares every table and sequence with the snapshot (an empty table: ``EXISTS``; a
seeded one: its rows as text), and only what differs is put back, in one transaction: those
tables, and every table whose foreign keys point into them, are emptied and refilled from the
snapshot, then the changed sequences are set back (last: MariaDB's ``ALTER TABLE ... AUTO_INCREMENT``
commits the transaction implicitly). No connection is closed, so the engine, its
pool and the app on it stay valid. Chosen by measurement against truncating every table,
re-cloning the database and copying the SQLite file: ``benchmarks/restore.py`` (docs/transactions.md,
"Rows your migrations seed survive real-commit tests").

Per dialect (``DIALECTS``, a module each: ``postgres``, ``sqlite``, ``mariadb``; what they share
in ``base``): how a table is compared, emptied and refilled, and what its sequences are. A dialect
missing there stops the first real-commit test with a message naming the fix.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from testsupport.cleanup.base import Counter, Restorer, Snapshot, Table
from testsupport.cleanup.mariadb import MariaDB
from testsupport.cleanup.postgres import Postgres
from testsupport.cleanup.sqlite import SQLite

# SQLAlchemy names MariaDB "mysql" for mysql+aiomysql:// URLs, "mariadb" for mariadb+...:// ones.
DIALECTS: dict[str, Restorer] = {"postgresql": Postgres(), "sqlite": SQLite(), "mysql": MariaDB(), "mariadb": MariaDB()}

_snapshots: weakref.WeakKeyDictionary[Engine, Snapshot] = weakref.WeakKeyDictionary()
_counters: weakref.WeakKeyDictionary[Engine, list[Counter]] = weakref.WeakKeyDictionary()


def restorer(dialect_name: str) -> Restorer:
    found = DIALECTS.get(dialect_name)
    if found is None:
        raise NotImplementedError(
            f"testsupport cannot put a {dialect_name} database back after a real-commit test "
            "(`@pytest.mark.db(transaction=True)`): it knows " + ", ".join(sorted(DIALECTS)) + ". Fix: keep "
            f"such tests to those databases, or add a Restorer for {dialect_name} to testsupport.cleanup.DIALECTS."
        )
    return found


def take_snapshot(connection: Connection, counters: list[Counter] | None = None) -> Snapshot:
    """The database as it is now: every table's rows, and every sequence's position (or
    ``counters``, read earlier)."""
    dialect = restorer(connection.dialect.name)
    quote = connection.dialect.identifier_preparer.quote
    inspector = inspect(connection)
    ordered = [name for name, _ in inspector.get_sorted_table_and_fkc_names() if name is not None]
    columns = {key[1]: value for key, value in inspector.get_multi_columns().items()}
    referenced_by: dict[str, set[str]] = {}
    for (_, name), keys in inspector.get_multi_foreign_keys().items():
        for key in keys:
            referenced_by.setdefault(key["referred_table"], set()).add(name)
    tables: list[Table] = []
    checks: list[str] = []
    for name in ordered:
        infos = columns[name]
        names = [c["name"] for c in infos if not c.get("computed")]
        insertable = [quote(name) for name in names]
        always = any(bool(c.get("identity", {}).get("always")) for c in infos)
        quoted = quote(name)
        reads, values = dialect.selected(connection, quoted, names, insertable)
        rows = tuple(tuple(row) for row in connection.exec_driver_sql(f"SELECT {', '.join(reads)} FROM {quoted}"))
        escaped = [column.replace(":", r"\:") for column in insertable]  # text() reads :name as a bind
        tables.append(
            Table(
                name,
                quoted,
                tuple(insertable),
                dialect.insert(quoted.replace(":", r"\:"), escaped, [v.replace(":", r"\:") for v in values], always),
                rows,
                frozenset(referenced_by.get(name, ())),
            )
        )
        checks.append(dialect.table_check(quoted, [quote(c["name"]) for c in infos], bool(rows)))
    expected = tuple(connection.exec_driver_sql("SELECT " + ", ".join(checks)).one()) if checks else ()
    if counters is None:
        counters = dialect.counters(connection)
    check = "SELECT " + ", ".join([*checks, *(counter.check for counter in counters)])
    expected += tuple(counter.expected for counter in counters)
    return Snapshot(check, expected, (*tables, *counters), tuple(t.name for t in tables))


def plan(snapshot: Snapshot, found: Sequence[Any]) -> tuple[list[Table], list[str]]:
    """What to put back: the changed tables with every table that refers to them (emptying a
    parent would fail on, or cascade into, its children), parents first; the changed sequences."""
    changed = {
        part.name
        for part, now, then in zip(snapshot.parts, found, snapshot.expected, strict=True)
        if isinstance(part, Table) and now != then
    }
    by_name = {part.name: part for part in snapshot.parts if isinstance(part, Table)}
    pending = list(changed)
    while pending:
        for child in by_name[pending.pop()].referenced_by:
            if child not in changed and child in by_name:
                changed.add(child)
                pending.append(child)
    tables = [by_name[name] for name in snapshot.order if name in changed]
    resets = [
        statement
        for part, now, then in zip(snapshot.parts, found, snapshot.expected, strict=True)
        if isinstance(part, Counter) and now != then
        for statement in part.reset
    ]
    return tables, resets


async def restore(engine: AsyncEngine) -> None:
    """Put the database back to the snapshot, in one transaction (a snapshot must exist)."""
    snapshot = _snapshots[engine.sync_engine]
    if not snapshot.parts:  # a database without tables or sequences
        return
    dialect = restorer(engine.dialect.name)
    async with engine.begin() as connection:
        found = (await connection.exec_driver_sql(snapshot.check)).one()
        tables, resets = plan(snapshot, found)
        if not tables and not resets:
            return
        for statement in dialect.empty([table.quoted for table in reversed(tables)]):
            await connection.exec_driver_sql(statement)
        for table in tables:
            if table.rows:
                await connection.execute(
                    text(table.insert), [{f"c{i}": value for i, value in enumerate(row)} for row in table.rows]
                )
        for statement in resets:
            await connection.exec_driver_sql(statement)


async def remember_counters(engine: AsyncEngine) -> None:
    """Read the sequences' positions before any test runs (the `schema` fixture): unlike the
    tables they are not rolled back after a savepoint test. A dialect without a Restorer is
    left to fail at its first real-commit test."""
    if engine.dialect.name in DIALECTS:
        async with engine.connect() as connection:
            _counters[engine.sync_engine] = await connection.run_sync(DIALECTS[engine.dialect.name].counters)
            await connection.rollback()


@asynccontextmanager
async def restored(engine: AsyncEngine, trusted: Callable[[], AbstractContextManager[None]]) -> AsyncIterator[None]:
    """Around a real-commit test: the snapshot before it (once per engine), the restore after it,
    passed or failed. ``trusted``: the safety net's permission for these two connections."""
    if engine.sync_engine not in _snapshots:
        with trusted():
            async with engine.connect() as connection:
                counters = _counters.get(engine.sync_engine)
                _snapshots[engine.sync_engine] = await connection.run_sync(take_snapshot, counters)
                await connection.rollback()
    try:
        yield
    finally:
        with trusted():
            await restore(engine)
