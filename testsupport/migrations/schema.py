"""What a database holds, as a set of named objects, read through SQLAlchemy's inspector: what a
downgrade must leave exactly as the upgrade found it. Dialect-neutral; PostgreSQL's enum types
come from its inspector's ``get_enums``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection


def _names(read: Any) -> list[Any]:
    try:
        return list(read())
    except NotImplementedError:  # the dialect has no such objects (SQLite: sequences)
        return []


def snapshot(connection: Connection) -> frozenset[str]:
    """Every table, column (with its type and nullability), index, unique and foreign key
    constraint, view, sequence and enum type of the connection's default schema."""
    inspector = inspect(connection)
    found: set[str] = {f"table {table}" for table in inspector.get_table_names()}
    # get_multi_*: one catalog query per kind for all tables on PostgreSQL (a loop elsewhere).
    for (_, table), columns in inspector.get_multi_columns().items():
        for column in columns:
            null = "NULL" if column["nullable"] else "NOT NULL"
            found.add(f"column {table}.{column['name']} {column['type']!r} {null}")
    for (_, table), indexes in inspector.get_multi_indexes().items():
        for index in indexes:
            names = ", ".join(map(str, index["column_names"]))
            found.add(f"index {index['name'] or '(unnamed)'} on {table}({names})")
    for (_, table), uniques in inspector.get_multi_unique_constraints().items():
        for unique in uniques:
            names = ", ".join(unique["column_names"])
            found.add(f"unique constraint {unique['name'] or '(unnamed)'} on {table}({names})")
    for (_, table), fks in inspector.get_multi_foreign_keys().items():
        for fk in fks:
            names = ", ".join(fk["constrained_columns"])
            found.add(f"foreign key {fk['name'] or '(unnamed)'} on {table}({names})")
    found.update(f"view {view}" for view in _names(inspector.get_view_names))
    found.update(f"sequence {sequence}" for sequence in _names(inspector.get_sequence_names))
    get_enums = getattr(inspector, "get_enums", None)  # PostgreSQL's inspector only
    if get_enums is not None:
        found.update(f"enum type {enum['name']} {tuple(enum['labels'])}" for enum in get_enums())
    return frozenset(found)


def changes(before: frozenset[str], after: frozenset[str]) -> list[str]:
    """What ``after`` has that ``before`` had not (left behind), and the reverse (removed)."""
    return [f"left behind: {name}" for name in sorted(after - before)] + [
        f"removed: {name}" for name in sorted(before - after)
    ]
