"""DDL commits implicitly on MariaDB: a savepoint-mode test that sends it fails there, naming
real-commit mode, and leaks nothing; real-commit mode runs it."""

from __future__ import annotations

import textwrap

import pytest

from tests.inner import run_inprocess
from tests.service_suite import use_service

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
