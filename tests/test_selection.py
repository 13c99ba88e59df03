"""Selection by database: `-k sqlite` must not even look for PostgreSQL."""

from __future__ import annotations

import textwrap

import pytest

from tests.inner import run_inprocess
from tests.service_suite import use_service
from testsupport.postgres import BINDIR_ENV, REQUIRE_ENV, URL_ENV


def test_k_sqlite_never_looks_for_postgres(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # Any attempt to find PostgreSQL would now fail the run: no binaries, and PostgreSQL required.
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setenv(BINDIR_ENV, "/nonexistent")
    monkeypatch.setenv(REQUIRE_ENV, "1")
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
        result.assert_outcomes(passed=1, deselected=3)
    result = run_inprocess(pytester, monkeypatch, "-m", "postgres")
    result.assert_outcomes(errors=1, deselected=3)
    result.stdout.fnmatch_lines([f"*{REQUIRE_ENV} is set and {BINDIR_ENV}=/nonexistent has no `postgres` binary*"])
