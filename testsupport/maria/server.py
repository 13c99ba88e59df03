"""Talking to a MariaDB server: create and drop databases, from synchronous code."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from testsupport.serverrun.admin import in_thread

DRIVER = "mysql+aiomysql"
# utf8mb4 on the connection and in every database the tests create: MySQL's "utf8" is 3 bytes a
# character and refuses (strict mode) or mangles an emoji. https://mariadb.com/kb/en/unicode/
CHARSET = "utf8mb4"


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Server:
    admin_url: URL  # the server, for CREATE/DROP DATABASE; its database (if any) is never written to

    def url_for(self, database: str) -> str:
        url = self.admin_url.set(drivername=DRIVER, database=database).update_query_dict({"charset": CHARSET})
        return url.render_as_string(hide_password=False)

    def execute(self, *statements: str) -> list[list[Any]]:
        """Each statement on one connection of its own (autocommit), its rows."""
        from sqlalchemy.ext.asyncio import create_async_engine

        async def go() -> list[list[Any]]:
            url = self.admin_url.set(drivername=DRIVER).update_query_dict({"charset": CHARSET})
            engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
            try:
                async with engine.connect() as conn:
                    results = []
                    for statement in statements:
                        # The driver %-formats every statement (SQLAlchemy passes it an empty
                        # tuple): a literal % (a LIKE pattern, a grant on `test\_%`) is doubled.
                        result = await conn.exec_driver_sql(statement.replace("%", "%%"))
                        results.append([tuple(row) for row in result] if result.returns_rows else [])
                    return results
            finally:
                await engine.dispose()

        return in_thread(lambda: asyncio.run(go()))

    def databases(self) -> set[str]:
        return {row[0] for row in self.execute("SHOW DATABASES")[0]}

    def create_database(self, name: str, comment: str = "") -> str:
        """Create ``name``, utf8mb4; ``comment`` (the owner record on a user's server) is kept in
        the database's own options (MariaDB 10.5.0+: information_schema.SCHEMATA.SCHEMA_COMMENT)."""
        text = " COMMENT '" + comment.replace("\\", "\\\\").replace("'", "''") + "'" if comment else ""
        self.execute(f"CREATE DATABASE {quoted(name)} CHARACTER SET {CHARSET}{text}")
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {quoted(name)}")
