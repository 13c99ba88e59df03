"""What the restore works with (the snapshot's parts) and what each dialect contributes to it
(``Restorer``): one module per dialect beside this one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Connection


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


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
