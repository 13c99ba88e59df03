"""A password in TEST_POSTGRES_URL never reaches any output (issue 20 item 3): not the tracebacks'
arguments, not ``-l``'s locals, not an assertion's diff, not captured output or a recorded
property, not the --junitxml file, not the summary; while the drivers get the real password."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.inner import run_inprocess
from tests.service_suite import use_service
from testsupport.postgres import URL_ENV, Server
from testsupport.redact import SecretURL

pytestmark = pytest.mark.postgres

ROLE, PASSWORD = "testsupport_secret_role", "Hush-7f3a9c-not-for-output"
LOCAL = ("127.0.0.1", 5432)  # the machine's own server, as a user's TEST_POSTGRES_URL names one

SUITE = """
import asyncpg

async def test_compares(database_url, db_session):
    built = database_url + "?application_name=built"  # a plain str: only the scrub hides it
    assert database_url == built

async def test_prints(database_url, record_property):
    print("the url:", database_url)
    record_property("url", database_url)
    assert not database_url

async def test_fails_in_the_driver(database_url):
    url = database_url.replace("+asyncpg", "")
    await asyncpg.connect(url, port=1, timeout=5)  # refused: a traceback through asyncpg's frames
"""


def _with_role(server: Server) -> None:
    server.execute(
        f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )


@pytest.fixture(params=["embedded", "local"])
def url_with_password(request: pytest.FixtureRequest) -> str:
    """A TEST_POSTGRES_URL whose role has a password: on the tests' own embedded server (which
    checks it: scram-sha-256 for every role but postgres), and on this machine's server when one
    answers at 127.0.0.1:5432 (CI has one)."""
    if request.param == "embedded":
        own: Server = request.getfixturevalue("own_server")
        _with_role(own)
        return f"postgresql://{ROLE}:{PASSWORD}@/postgres?host={own.admin_url.query['host']}"
    try:
        socket.create_connection(LOCAL, timeout=1).close()
    except OSError as exc:
        pytest.skip(f"no PostgreSQL answers at {LOCAL[0]}:{LOCAL[1]} ({exc}); the embedded case covers the rest")
    _with_role(Server(make_url(f"postgresql://postgres@{LOCAL[0]}:{LOCAL[1]}/postgres")))
    return f"postgresql://{ROLE}:{PASSWORD}@{LOCAL[0]}:{LOCAL[1]}/postgres"


def test_the_password_reaches_no_output(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url_with_password: str, tmp_path: Path
) -> None:
    monkeypatch.setenv(URL_ENV, url_with_password)
    use_service(pytester)
    pytester.makepyfile(test_inner=SUITE)
    junit = tmp_path / "junit.xml"

    result = run_inprocess(
        pytester, monkeypatch, "-k", "postgres", "-l", "-vv", "-rA", "-o", "junit_family=xunit1", f"--junitxml={junit}"
    )

    result.assert_outcomes(failed=3, deselected=15)
    output = result.stdout.str() + result.stderr.str()
    for where, text in (("the output", output), ("the junit XML", junit.read_text())):
        assert PASSWORD not in text, where
        assert f"{ROLE}:***@" in text, where  # the URLs are shown, their password hidden
    assert "database_url = 'postgresql+asyncpg://" in output  # the test's arguments, as pytest shows them
    assert "password='***'" in output  # asyncpg's connection parameters, in its own frames


def test_a_secret_url_is_the_real_url_to_drivers_and_hidden_in_its_repr() -> None:
    raw = f"postgresql+asyncpg://{ROLE}:{PASSWORD}@db.example:5432/app"
    url = SecretURL(raw)

    assert PASSWORD not in repr(url)
    assert repr(url) == repr(f"postgresql+asyncpg://{ROLE}:***@db.example:5432/app")
    assert str(url) == raw
    assert f"{url}" == raw
    assert make_url(url).password == PASSWORD
