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

Per dialect (``DIALECTS``): how a table is compared, emptied and refilled, and what its sequences
are. A dialect missing there stops the first real-commit test with a message naming the fix.
https://www.postgresql.org/docs/current/functions-sequence.html
https://www.sqlite.org/autoinc.html
https://mariadb.com/kb/en/sql-statements-that-cause-an-implicit-commit/
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True)
class Table:
    name: str  # as reflected
    quoted: str
    columns: tuple[str, ...]  # quoted, the ones an INSERT may name (no generated columns)
    insert: str  # the INSERT for one snapshot row, binds :c0, :c1, ...
    rows: tuple[tuple[Any, ...], ...]  # the snapshot
    referenced_by: frozenset[str]  # tables whose foreign keys point here


@dataclass(frozen=True)
class Counter:
    """A sequence: the check query's column for it, its value then, the statements that reset it."""

    check: str
    expected: Any
    reset: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    check: str  # one SELECT, a column per table and sequence
    expected: tuple[Any, ...]  # its row at snapshot time
    parts: tuple[Table | Counter, ...]  # per column
    order: tuple[str, ...]  # table names, parents first


class Restorer(Protocol):
    """What a dialect contributes. ``quote`` is the dialect's identifier quoting."""

    def table_check(self, quoted: str, columns: Sequence[str], seeded: bool) -> str: ...

    def counters(self, connection: Connection) -> list[Counter]: ...

    def selected(
        self, connection: Connection, table: str, names: Sequence[str], columns: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        """How to read each column (``names`` as reflected, ``columns`` quoted) for the snapshot, and
        how its INSERT takes the value back (``{}``: the bind)."""
        ...

    def insert(self, quoted: str, columns: Sequence[str], values: Sequence[str], identity_always: bool) -> str: ...

    def empty(self, tables: Sequence[str]) -> list[str]: ...


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Postgres:
    def table_check(self, quoted: str, columns: Sequence[str], seeded: bool) -> str:
        if not seeded:
            return f"EXISTS (SELECT FROM {quoted})"
        return f"(SELECT md5(string_agg(r::text, '|' ORDER BY r::text)) FROM {quoted} AS r)"

    def counters(self, connection: Connection) -> list[Counter]:
        """Per sequence of the schema: its last value (NULL until first used), and the setval that
        puts it back there. Sequences are outside transactions: savepoint tests move them too.
        https://www.postgresql.org/docs/current/view-pg-sequences.html"""
        found = connection.exec_driver_sql(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value, start_value "
            "FROM pg_sequences WHERE schemaname = current_schema() ORDER BY 1"
        )
        return [
            Counter(
                f"pg_sequence_last_value({_literal(name)}::regclass)",
                last,
                (f"SELECT setval({_literal(name)}, {int(start if last is None else last)}, {last is not None})",),
            )
            for name, last, start in found
        ]

    def selected(
        self, connection: Connection, table: str, names: Sequence[str], columns: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        # Through each type's text form, which every type has and reads back exactly: the driver's
        # own codecs are not symmetric (SQLAlchemy's asyncpg json codec decodes to a dict and
        # encodes only a str).
        types: dict[str, str] = dict(
            connection.exec_driver_sql(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                f"WHERE attrelid = {_literal(table)}::regclass AND attnum > 0 AND NOT attisdropped"
            ).all()
        )
        return [f"{column}::text" for column in columns], [f"CAST(CAST({{}} AS text) AS {types[n]})" for n in names]

    def insert(self, quoted: str, columns: Sequence[str], values: Sequence[str], identity_always: bool) -> str:
        overriding = " OVERRIDING SYSTEM VALUE" if identity_always else ""
        binds = ", ".join(value.format(f":c{i}") for i, value in enumerate(values))
        return f"INSERT INTO {quoted} ({', '.join(columns)}){overriding} VALUES ({binds})"

    def empty(self, tables: Sequence[str]) -> list[str]:
        # DELETE, children first: on the few small tables a test touches it is cheaper than
        # TRUNCATE (new files per table; 0.24 against 0.65 ms for a two-row table, embedded PostgreSQL
        # 18 on a busy 2-core VM) and takes no ACCESS EXCLUSIVE lock.
        return [f"DELETE FROM {name}" for name in tables]


class AsRead:
    """Values written back as the driver read them (SQLite's int, float, str, bytes, None;
    MariaDB's through pymysql, whose types go back as they came)."""

    def selected(
        self, connection: Connection, table: str, names: Sequence[str], columns: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        return list(columns), ["{}"] * len(columns)

    def insert(self, quoted: str, columns: Sequence[str], values: Sequence[str], identity_always: bool) -> str:
        binds = ", ".join(value.format(f":c{i}") for i, value in enumerate(values))
        return f"INSERT INTO {quoted} ({', '.join(columns)}) VALUES ({binds})"


class SQLite(AsRead):
    def table_check(self, quoted: str, columns: Sequence[str], seeded: bool) -> str:
        if not seeded:
            return f"EXISTS (SELECT 1 FROM {quoted})"
        row = " || ',' || ".join(f"quote({column})" for column in columns)
        return f"(SELECT group_concat(r, char(31)) FROM (SELECT {row} AS r FROM {quoted} ORDER BY 1))"

    def counters(self, connection: Connection) -> list[Counter]:
        """AUTOINCREMENT's counters: the table sqlite_sequence (which reflection leaves out), put
        back after the tables were refilled (their INSERTs move the counters)."""
        if not connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first():
            return []
        check = "(SELECT group_concat(name || ':' || seq, ',') FROM (SELECT name, seq FROM sqlite_sequence ORDER BY 1))"
        rows = connection.exec_driver_sql("SELECT name, seq FROM sqlite_sequence ORDER BY name").all()
        inserts = [f"INSERT INTO sqlite_sequence (name, seq) VALUES ({_literal(n)}, {int(v)})" for n, v in rows]
        now = connection.exec_driver_sql(f"SELECT {check}").scalar()
        return [Counter(check, now, ("DELETE FROM sqlite_sequence", *inserts))]

    def empty(self, tables: Sequence[str]) -> list[str]:
        # Foreign keys checked at COMMIT, not per statement: order and cycles do not matter.
        # https://www.sqlite.org/pragma.html#pragma_defer_foreign_keys
        return ["PRAGMA defer_foreign_keys = ON", *(f"DELETE FROM {name}" for name in tables)]


class MariaDB(AsRead):
    def table_check(self, quoted: str, columns: Sequence[str], seeded: bool) -> str:
        if not seeded:
            return f"EXISTS (SELECT 1 FROM {quoted})"
        # The row count and the sum of each row's 64-bit MD5 prefix (exact: DECIMAL): no order, no
        # GROUP_CONCAT (cut at group_concat_max_len). CHECKSUM TABLE is cheaper on big tables (0.31
        # against 1.30 ms for 1000 rows; 0.12 against 0.22 ms for 3, alone, MariaDB 10.11, busy 2-core
        # VM) but a statement of its own, not a part of the one check query, and a 32-bit sum of CRCs.
        row = f"CONCAT_WS(CHAR(31), {', '.join(f'QUOTE({column})' for column in columns)})"
        digest = f"CAST(CONV(LEFT(MD5({row}), 16), 16, 10) AS UNSIGNED)"
        return f"(SELECT CONCAT(COUNT(*), '/', COALESCE(SUM({digest}), 0)) FROM {quoted})"

    def counters(self, connection: Connection) -> list[Counter]:
        """Per AUTO_INCREMENT table: its next id, and the ALTER that puts it back. A rolled-back
        INSERT keeps the id it took, so savepoint tests move them. The ALTER commits implicitly:
        the resets run last in the restore. (MariaDB reads this column live; MySQL 8 caches it
        for information_schema_stats_expiry seconds.)
        https://mariadb.com/kb/en/auto_increment/#setting-or-changing-the-auto_increment-value"""
        quote = connection.dialect.identifier_preparer.quote
        found = connection.exec_driver_sql(
            "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL ORDER BY 1"
        )
        return [
            Counter(
                "(SELECT AUTO_INCREMENT FROM information_schema.TABLES "
                f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {_literal(name)})",
                int(value),
                (f"ALTER TABLE {quote(name)} AUTO_INCREMENT = {int(value)}",),
            )
            for name, value in found
        ]

    def empty(self, tables: Sequence[str]) -> list[str]:
        # DELETE, children first: InnoDB refuses TRUNCATE on a table a foreign key references.
        # https://mariadb.com/kb/en/truncate-table/
        return [f"DELETE FROM {name}" for name in tables]


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
