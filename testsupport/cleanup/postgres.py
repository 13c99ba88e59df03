"""PostgreSQL's part of the restore: rows compared by their text's md5, values through each type's
text form, the schema's sequences put back with setval.
https://www.postgresql.org/docs/current/functions-sequence.html"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from testsupport.cleanup.base import Counter, literal


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
                f"pg_sequence_last_value({literal(name)}::regclass)",
                last,
                (f"SELECT setval({literal(name)}, {int(start if last is None else last)}, {last is not None})",),
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
                f"WHERE attrelid = {literal(table)}::regclass AND attnum > 0 AND NOT attisdropped"
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
