"""Emptying the tables after a real-commit test (``@pytest.mark.db(transaction=True)``).

PostgreSQL: one ``TRUNCATE ... RESTART IDENTITY CASCADE`` over every table. MariaDB: ``DELETE``
and an ``AUTO_INCREMENT`` reset per table (``mariadb_statements``). SQLite: ``DELETE`` from
each table, children before parents (foreign keys are enforced), then ``sqlite_sequence`` so
AUTOINCREMENT ids restart. The tables are reflected once per engine, in foreign-key order
(``Inspector.get_sorted_table_and_fkc_names``); Alembic's version table is never touched.
https://www.postgresql.org/docs/current/sql-truncate.html
https://www.sqlite.org/autoinc.html
"""

from __future__ import annotations

import weakref

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

KEEP = frozenset({"alembic_version", "sqlite_sequence"})

# Per engine, the statements that empty its tables: the tables and sqlite_sequence (SQLite makes it
# with the first AUTOINCREMENT table) are the schema's, migrated before any test.
_statements: weakref.WeakKeyDictionary[Engine, list[str]] = weakref.WeakKeyDictionary()


def sorted_tables(connection: Connection) -> tuple[str, ...]:
    """The database's tables, children first (the order to delete in), without Alembic's."""
    ordered = inspect(connection).get_sorted_table_and_fkc_names()
    return tuple(reversed([name for name, _ in ordered if name is not None and name not in KEEP]))


def statements(dialect_name: str, quoted: list[str], has_sequence: bool) -> list[str]:
    if not quoted:
        return []
    if dialect_name == "postgresql":
        return [f"TRUNCATE {', '.join(quoted)} RESTART IDENTITY CASCADE"]
    if dialect_name in ("mysql", "mariadb"):
        return mariadb_statements(quoted)
    return [f"DELETE FROM {name}" for name in quoted] + (["DELETE FROM sqlite_sequence"] if has_sequence else [])


def mariadb_statements(quoted: list[str]) -> list[str]:
    """MariaDB/MySQL: DELETE, children first (no TRUNCATE: InnoDB refuses it on a table a foreign key
    references, and it recreates the table), then put each AUTO_INCREMENT back to 1, which InnoDB
    raises to the largest id + 1, so on an empty table the next id is 1 again (MariaDB's RESTART
    IDENTITY). Both ALTERs commit implicitly: real-commit mode only.
    https://mariadb.com/kb/en/auto_increment/#setting-or-changing-the-auto_increment-value"""
    return [f"DELETE FROM {name}" for name in quoted] + [f"ALTER TABLE {name} AUTO_INCREMENT = 1" for name in quoted]


def emptying_statements(connection: Connection) -> list[str]:
    quote = connection.dialect.identifier_preparer.quote
    has_sequence = connection.dialect.name == "sqlite" and bool(
        connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first()
    )
    return statements(connection.dialect.name, [quote(t) for t in sorted_tables(connection)], has_sequence)


async def empty_tables(engine: AsyncEngine) -> None:
    """Delete every row of every table (but Alembic's) and restart the ids, in one transaction."""
    async with engine.begin() as connection:
        found = _statements.get(engine.sync_engine)
        if found is None:
            found = _statements[engine.sync_engine] = await connection.run_sync(emptying_statements)
        for statement in found:
            await connection.exec_driver_sql(statement)
