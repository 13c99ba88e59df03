"""Selection by database: `-k sqlite` must not even look for PostgreSQL or MariaDB."""

from __future__ import annotations

import textwrap

import pytest

from tests.inner import run_inprocess
from tests.service_suite import use_service
from testsupport import mariadb
from testsupport.postgres import BINDIR_ENV, REQUIRE_ENV, URL_ENV


def test_k_sqlite_never_looks_for_postgres(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # Any attempt to find PostgreSQL would now fail the run: no binaries, and PostgreSQL required.
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setenv(BINDIR_ENV, "/nonexistent")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    monkeypatch.delenv(mariadb.URL_ENV, raising=False)
    monkeypatch.setenv(mariadb.BINDIR_ENV, "/nonexistent")
    monkeypatch.setenv(mariadb.REQUIRE_ENV, "1")
    use_service(pytester)
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            """
            async def test_uses_the_database(db_session):
                assert db_session.get_bind().dialect.name == "sqlite"
            """
        )
    )
    for selection in (["-k", "sqlite"], ["-m", "sqlite"]):
        result = run_inprocess(pytester, monkeypatch, *selection)
        result.assert_outcomes(passed=1, deselected=5)
    result = run_inprocess(pytester, monkeypatch, "-m", "postgres")
    result.assert_outcomes(errors=1, deselected=5)
    result.stdout.fnmatch_lines([f"*{REQUIRE_ENV} is set and {BINDIR_ENV}=/nonexistent has no `postgres` binary*"])
    result = run_inprocess(pytester, monkeypatch, "-m", "mariadb")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{mariadb.REQUIRE_ENV} is set and there is no MariaDB server binaries*"])


def test_without_mariadb_its_tests_are_deselected_naming_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(mariadb.URL_ENV, raising=False)
    monkeypatch.delenv(mariadb.REQUIRE_ENV, raising=False)
    monkeypatch.setenv(mariadb.BINDIR_ENV, "/nonexistent")
    use_service(pytester)
    pytester.makepyfile(test_inner="async def test_uses_the_database(db_session):\n    pass\n")
    result = run_inprocess(pytester, monkeypatch, "-m", "mariadb")
    result.assert_outcomes(deselected=6)
    result.stdout.fnmatch_lines(
        ["testsupport: deselected 1 tests (mariadb: no MariaDB server binaries *set TEST_MARIADB_URL=mysql://*)"]
    )
