"""DDL in a savepoint-mode test on MariaDB/MySQL: refused before it is sent.

These servers commit the open transaction before (and after) most DDL, and a savepoint cannot
hold it back: a ``CREATE TABLE`` in a test would commit the test's outer transaction, every row
written so far would stay for every later test, and the rollback at teardown would roll back
nothing. PostgreSQL and SQLite run DDL inside the transaction, so the same test passes there.
https://mariadb.com/kb/en/sql-statements-that-cause-an-implicit-commit/
https://dev.mysql.com/doc/refman/8.4/en/implicit-commit.html
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from testsupport.net import NET, Mode, TestEngineMisuseError

# The statements of those pages a test may plausibly send; CREATE/DROP TEMPORARY TABLE do not commit.
IMPLICIT_COMMIT = re.compile(
    r"\s*(?!(?:CREATE|DROP)\s+TEMPORARY\s)"
    r"(ALTER|CREATE|DROP|RENAME|TRUNCATE|GRANT|REVOKE|LOCK\s+TABLES?|ANALYZE|OPTIMIZE|REPAIR|LOAD\s+DATA|SET\s+PASSWORD)\b",
    re.IGNORECASE,
)
REAL_COMMIT_MODE = (
    "mark the test `@pytest.mark.db(transaction=True)` (real-commit mode: real connections and commits, the "
    "database restored afterwards), or use CREATE TEMPORARY TABLE, which does not commit"
)


def refuse_implicit_commits(engine: AsyncEngine) -> AsyncEngine:
    """On the test engine: DDL sent by a test in savepoint mode raises TestEngineMisuseError naming
    real-commit mode. testsupport's own fixtures (the schema's migrations) and real-commit tests
    are not affected."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _refuse(_conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if NET.mode is not Mode.SAVEPOINT or NET.trusted or NET.current is not engine.sync_engine.dialect:
            return
        found = IMPLICIT_COMMIT.match(statement)
        if found is None:
            return
        raise TestEngineMisuseError(
            f"{NET.test_name} sent `{' '.join(statement.split())[:80]}` in savepoint mode. On MariaDB and MySQL "
            f"{found.group(1).upper()} commits the open transaction implicitly: the test's rows so far would be "
            "committed for real and leak into every later test, and its rollback would undo nothing. (PostgreSQL "
            f"and SQLite run DDL inside the transaction.) Fix: {REAL_COMMIT_MODE}."
        )

    return engine


NOT_TRANSACTIONAL = text(
    "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
    "AND TABLE_TYPE = 'BASE TABLE' AND ENGINE NOT IN ('InnoDB', 'ROCKSDB') ORDER BY TABLE_NAME"
)


class NonTransactionalTablesError(RuntimeError):
    """Tables whose engine has no transactions: the per-test rollback would not undo their rows."""


def require_transactional_tables(connection: Connection) -> None:
    """After the schema is migrated: every table must be InnoDB (MariaDB's default) or MyRocks, the
    engines with transactions and savepoints. A MyISAM, Aria or MEMORY table ignores ROLLBACK, so
    rows a test wrote there would stay for every later test, silently.
    https://mariadb.com/kb/en/myisam-storage-engine/"""
    found = connection.execute(NOT_TRANSACTIONAL).all()
    if found:
        tables = ", ".join(f"{name} ({engine})" for name, engine in found)
        raise NonTransactionalTablesError(
            f"the migrated schema has tables without transactions: {tables}. Each test's rollback would leave "
            "their rows behind for every later test. Fix: create them with ENGINE=InnoDB "
            "(SQLAlchemy: Table(..., mysql_engine='InnoDB')), or set default_storage_engine=InnoDB on the server."
        )
