"""DDL commits implicitly on MariaDB: a savepoint-mode test that sends it fails there, naming
real-commit mode, and leaks nothing; real-commit mode runs it. A table without transactions
(MyISAM) stops the schema: no rollback would undo its rows."""

from __future__ import annotations

import textwrap

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from tests.inner import run_inprocess
from tests.service_suite import use_service
from testsupport.maria.ddl import NonTransactionalTablesError, require_transactional_tables
from testsupport.mariadb import Server

pytestmark = pytest.mark.mariadb

SUITE = textwrap.dedent(
    """
    import pytest
    from sqlalchemy import text

    async def test_1_ddl_in_savepoint_mode(db_session):
        await db_session.execute(text("INSERT INTO users (email, name) VALUES ('a@example.com', 'A')"))
        await db_session.execute(text("CREATE TABLE extra (id INT)"))

    async def test_2_nothing_was_committed(db_session):
        assert (await db_session.execute(text("SELECT count(*) FROM users"))).scalar() == 0
        assert (await db_session.execute(text("SHOW TABLES LIKE 'extra'"))).first() is None

    async def test_3_temporary_tables_do_not_commit(db_session):
        await db_session.execute(text("CREATE TEMPORARY TABLE scratch (id INT)"))
        await db_session.execute(text("DROP TEMPORARY TABLE scratch"))

    @pytest.mark.db(transaction=True)
    async def test_4_real_commit_mode_runs_ddl(db_connection):
        await db_connection.execute(text("CREATE TABLE extra (id INT)"))
        await db_connection.execute(text("DROP TABLE extra"))
    """
)


def test_ddl_in_savepoint_mode_fails_naming_real_commit_mode(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_service(pytester)
    pytester.makepyfile(test_inner=SUITE)
    result = run_inprocess(pytester, monkeypatch, "-k", "mariadb")
    result.assert_outcomes(passed=3, failed=1, deselected=20)  # the other targets, trio x database
    result.stdout.fnmatch_lines(
        [
            "*TestEngineMisuseError: test_inner.py::test_1_ddl_in_savepoint_mode[[]asyncio-mariadb[]] sent `CREATE "
            "TABLE extra (id INT)` in savepoint mode. On MariaDB and MySQL CREATE commits the open transaction "
            "implicitly*Fix: mark the test `@pytest.mark.db(transaction=True)` (real-commit mode*"
        ]
    )


def test_a_table_without_transactions_stops_the_schema(own_mariadb: Server) -> None:
    url = own_mariadb.create_database("test_engines")
    engine = create_engine(make_url(url).set(drivername="mysql+pymysql"))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE rows_stay (id INT PRIMARY KEY) ENGINE=InnoDB")
            require_transactional_tables(connection)  # InnoDB: fine
            connection.exec_driver_sql("CREATE TABLE kept (id INT PRIMARY KEY) ENGINE=MyISAM")
            with pytest.raises(NonTransactionalTablesError, match=r"tables without transactions: kept \(MyISAM\)"):
                require_transactional_tables(connection)
    finally:
        engine.dispose()
        own_mariadb.drop_database("test_engines")
