"""SQLite's part of the restore: rows compared as their quoted text, foreign keys deferred while
tables are refilled, AUTOINCREMENT's counters (sqlite_sequence) put back.
https://www.sqlite.org/autoinc.html"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from testsupport.cleanup.base import AsRead, Counter, literal


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
        inserts = [f"INSERT INTO sqlite_sequence (name, seq) VALUES ({literal(n)}, {int(v)})" for n, v in rows]
        now = connection.exec_driver_sql(f"SELECT {check}").scalar()
        return [Counter(check, now, ("DELETE FROM sqlite_sequence", *inserts))]

    def empty(self, tables: Sequence[str]) -> list[str]:
        # Foreign keys checked at COMMIT, not per statement: order and cycles do not matter.
        # https://www.sqlite.org/pragma.html#pragma_defer_foreign_keys
        return ["PRAGMA defer_foreign_keys = ON", *(f"DELETE FROM {name}" for name in tables)]
