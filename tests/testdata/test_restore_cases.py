"""testsupport.cleanup's restore on the cases an adopter's schema brings: a seeded parent whose
seeded children refer to it (ON DELETE CASCADE), an identity column PostgreSQL generates ALWAYS,
a generated column, JSON, AUTOINCREMENT's and AUTO_INCREMENT's counters, and a sequence that savepoint tests moved
before the first real-commit test. On the second, unmigrated database of each target (tables of
its own, dropped at the end)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from testsupport import cleanup

TABLES = ("rc_users", "rc_grants", "rc_codes", "rc_roles")  # children first
SCHEMA = {
    "postgres": [
        "CREATE TABLE rc_roles (id serial PRIMARY KEY, name text UNIQUE NOT NULL, data jsonb)",
        "CREATE TABLE rc_grants (id serial PRIMARY KEY, role_id int REFERENCES rc_roles ON DELETE CASCADE, what text)",
        "CREATE TABLE rc_users (id serial PRIMARY KEY, role_id int REFERENCES rc_roles)",
        "CREATE TABLE rc_codes (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, code text, "
        "upper_code text GENERATED ALWAYS AS (upper(code)) STORED)",
    ],
    "sqlite": [
        "CREATE TABLE rc_roles (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, data JSON)",
        "CREATE TABLE rc_grants (id INTEGER PRIMARY KEY, role_id INTEGER REFERENCES rc_roles ON DELETE CASCADE, "
        "what TEXT)",
        "CREATE TABLE rc_users (id INTEGER PRIMARY KEY, role_id INTEGER REFERENCES rc_roles)",
        "CREATE TABLE rc_codes (id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT, "
        "upper_code TEXT GENERATED ALWAYS AS (upper(code)) STORED)",
    ],
    # InnoDB ignores a column's inline REFERENCES: the foreign keys are table constraints.
    "mariadb": [
        "CREATE TABLE rc_roles (id int AUTO_INCREMENT PRIMARY KEY, name varchar(20) UNIQUE NOT NULL, data json)",
        "CREATE TABLE rc_grants (id int AUTO_INCREMENT PRIMARY KEY, role_id int, what text, "
        "FOREIGN KEY (role_id) REFERENCES rc_roles (id) ON DELETE CASCADE)",
        "CREATE TABLE rc_users (id int AUTO_INCREMENT PRIMARY KEY, role_id int, "
        "FOREIGN KEY (role_id) REFERENCES rc_roles (id))",
        "CREATE TABLE rc_codes (id int AUTO_INCREMENT PRIMARY KEY, code text, "
        "upper_code text GENERATED ALWAYS AS (upper(code)) STORED)",
    ],
}
SEED = [
    """INSERT INTO rc_roles (name, data) VALUES ('admin', '{"level": 9}'), ('reader', '[1, "two"]')""",
    "INSERT INTO rc_grants (role_id, what) VALUES (1, 'all'), (2, 'read')",
    "INSERT INTO rc_codes (code) VALUES ('ab'), ('cd')",
]
# What a savepoint test may leave: on PostgreSQL, moved sequences (nextval is never rolled back).
MOVE_SEQUENCES = {
    "postgres": ["SELECT nextval('rc_roles_id_seq')", "SELECT nextval('rc_codes_id_seq')"],
    "sqlite": [],
    # A rolled-back INSERT keeps its AUTO_INCREMENT id: the same counters as after two of them.
    "mariadb": ["ALTER TABLE rc_roles AUTO_INCREMENT = 5", "ALTER TABLE rc_codes AUTO_INCREMENT = 5"],
}
# What the real-commit test does.
CHANGES = [
    "UPDATE rc_roles SET name = 'root' WHERE id = 1",  # its children are put back too
    "INSERT INTO rc_roles (name) VALUES ('new')",
    "INSERT INTO rc_users (role_id) VALUES (2)",
    "DELETE FROM rc_grants WHERE id = 2",
    "INSERT INTO rc_codes (code) VALUES ('ef')",
    "UPDATE rc_codes SET code = 'zz' WHERE id = 1",
]


async def state(engine: AsyncEngine) -> dict[str, Any]:
    """Every row of the tables, and where the next ids come from."""
    found: dict[str, Any] = {}
    async with engine.connect() as connection:
        for table in TABLES:
            found[table] = (await connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")).all()
        if engine.dialect.name == "postgresql":
            sequences = "SELECT sequencename, last_value FROM pg_sequences WHERE sequencename LIKE 'rc_%' ORDER BY 1"
        elif engine.dialect.name == "sqlite":
            sequences = "SELECT name, seq FROM sqlite_sequence WHERE name LIKE 'rc_%' ORDER BY 1"
        else:
            sequences = (
                "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                f"AND TABLE_NAME IN {TABLES!r} ORDER BY 1"
            )
        found["sequences"] = (await connection.exec_driver_sql(sequences)).all()
    return found


async def run(engine: AsyncEngine, statements: list[str]) -> None:
    async with engine.begin() as connection:
        for statement in statements:
            await connection.exec_driver_sql(statement)


async def test_the_restore_puts_the_seeded_state_back(
    database: str, empty_database_url: str, engine_factory: Callable[[str], AsyncEngine]
) -> None:
    engine = engine_factory(empty_database_url)
    try:
        await run(engine, SCHEMA[database] + SEED)
        template = await state(engine)
        await cleanup.remember_counters(engine)  # the `schema` fixture's part
        await run(engine, MOVE_SEQUENCES[database])
        async with cleanup.restored(engine, contextlib.nullcontext):
            await run(engine, CHANGES)
            assert await state(engine) != template
        assert await state(engine) == template
        # And the next id is the template's next id.
        await run(engine, ["INSERT INTO rc_roles (name) VALUES ('third')"])
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT id FROM rc_roles WHERE name = 'third'")) == 3
    finally:
        await run(engine, [f"DROP TABLE IF EXISTS {table}" for table in TABLES])
        await engine.dispose()
