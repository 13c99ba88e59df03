"""What the tests of a user's server share across targets: an inner suite whose test blocks until
killed (after reporting its run and the run's server info), and stand-ins for the user's server
with a user whose URL holds a password."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest
from sqlalchemy.engine import make_url

from tests.inner import popen, wait_for
from testsupport import mariadb, postgres

PASSWORD = "owner-secret"

SUITE = textwrap.dedent(
    """
    import json, os, pathlib, stat, tempfile, time

    async def test_uses_the_database(db_session):
        marker = os.environ.get("MARKER")
        if not marker:
            return
        state = pathlib.Path(tempfile.gettempdir()) / f"testsupport-{os.environ['TESTSUPPORT_RUN_ID']}"
        info = state / INFO_FILE
        report = {
            "run_id": os.environ["TESTSUPPORT_RUN_ID"],
            "info": info.read_text(),
            "mode": stat.S_IMODE(info.stat().st_mode),
        }
        pathlib.Path(marker + ".tmp").write_text(json.dumps(report))
        os.replace(marker + ".tmp", marker)  # whole: the outer test reads it as soon as it exists
        time.sleep(300)  # until killed
    """
)


def suite(info_file: str) -> str:
    """SUITE for a target whose run keeps its server info in ``info_file`` (the run's folder)."""
    return SUITE.replace("INFO_FILE", repr(info_file))


def start_blocked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, target: str
) -> subprocess.Popen[bytes]:
    """An inner run of ``target``'s test, in a process of its own, that blocks once it reported."""
    monkeypatch.setenv("MARKER", str(pytester.path / name))
    return popen(pytester, "-k", target)


def wait_blocked(pytester: pytest.Pytester, name: str, run: subprocess.Popen[bytes]) -> dict[str, object]:
    marker = pytester.path / name
    wait_for(lambda: marker.exists() or run.poll() is not None, f"the {name} run's test to start", 60)
    assert run.poll() is None, run.communicate()[0].decode()
    report: dict[str, object] = json.loads(marker.read_text())
    return report


def postgres_owner(request: pytest.FixtureRequest) -> tuple[str, postgres.Server]:
    """The user's server of the outer run if it has one (other runs may share it: a test only
    looks at its own inner runs' databases), else the stand-in; the URL holds a password."""
    outer = os.environ.get(postgres.URL_ENV)
    if outer:
        url = make_url(outer).set(password=PASSWORD)  # ignored by trust, still in the URL
    else:
        own: postgres.Server = request.getfixturevalue("own_server")
        own.execute(
            f"DO $$ BEGIN CREATE ROLE owner_role LOGIN CREATEDB PASSWORD '{PASSWORD}'; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        url = make_url(f"postgresql://owner_role:{PASSWORD}@/postgres?host={own.admin_url.query['host']}")
    return url.render_as_string(hide_password=False), postgres.Server(url)


def mariadb_owner(request: pytest.FixtureRequest) -> tuple[str, mariadb.Server]:
    """A server standing in for the user's, with a user of its own whose URL holds a password and
    a database of "the user's own" with a row; and that server, as its admin. Always this test's
    own server, even when the outer run has a TEST_MARIADB_URL: other runs on a shared server sweep
    killed runs too, and would race this test for the databases it watches."""
    own: mariadb.Server = request.getfixturevalue("own_mariadb")
    own.execute(
        f"CREATE USER IF NOT EXISTS 'owner'@'localhost' IDENTIFIED BY '{PASSWORD}'",
        "GRANT ALL ON `test\\_%`.* TO 'owner'@'localhost'",
        "GRANT SELECT ON `users_own`.* TO 'owner'@'localhost'",
        "CREATE DATABASE IF NOT EXISTS users_own",
        "CREATE TABLE IF NOT EXISTS users_own.t (id INT PRIMARY KEY)",
        "REPLACE INTO users_own.t VALUES (1)",
    )
    socket = own.admin_url.query["unix_socket"]
    return f"mysql://owner:{PASSWORD}@localhost/?unix_socket={socket}", own
