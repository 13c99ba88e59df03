"""On the user's server (TEST_POSTGRES_URL) each database a run creates names its owner, so a
later run, on any host, drops what killed runs left and leaves live runs' databases alone; and no
file of the run holds the URL's password (issue 13 item 5)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import anyio
import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.inner import alive, popen, run_inprocess, wait_for
from tests.service_suite import use_service
from testsupport.pg import holder
from testsupport.pg.runstate import state_path
from testsupport.pg.userserver import sweep_dead_runs
from testsupport.postgres import URL_ENV, Server

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")]

SUITE = textwrap.dedent(
    """
    import json, os, pathlib, stat, tempfile, time

    async def test_uses_the_database(db_session):
        marker = os.environ.get("MARKER")
        if not marker:
            return
        state = pathlib.Path(tempfile.gettempdir()) / f"testsupport-{os.environ['TESTSUPPORT_RUN_ID']}"
        server_json = state / "server.json"
        report = {
            "run_id": os.environ["TESTSUPPORT_RUN_ID"],
            "server_json": server_json.read_text(),
            "mode": stat.S_IMODE(server_json.stat().st_mode),
        }
        pathlib.Path(marker + ".tmp").write_text(json.dumps(report))
        os.replace(marker + ".tmp", marker)  # whole: the outer test reads it as soon as it exists
        time.sleep(300)  # until killed
    """
)


@pytest.fixture
def user_url(request: pytest.FixtureRequest) -> tuple[str, Server]:
    """The user's server of the outer run if it has one (other runs may share it: this test only
    looks at its own inner runs' databases), else the stand-in; the URL holds a password."""
    outer = os.environ.get(URL_ENV)
    if outer:
        url = make_url(outer).set(password="owner-secret")  # ignored by trust, still in the URL
    else:
        own: Server = request.getfixturevalue("own_server")
        own.execute(
            "DO $$ BEGIN CREATE ROLE owner_role LOGIN CREATEDB PASSWORD 'owner-secret'; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        url = make_url(f"postgresql://owner_role:owner-secret@/postgres?host={own.admin_url.query['host']}")
    return url.render_as_string(hide_password=False), Server(url)


def test_a_killed_runs_databases_are_dropped_and_a_live_runs_kept(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, user_url: tuple[str, Server]
) -> None:
    url, own_server = user_url
    monkeypatch.setenv(URL_ENV, url)
    use_service(pytester)
    pytester.makepyfile(test_inner=SUITE)

    started: list[subprocess.Popen[bytes]] = []

    def start_blocked(name: str) -> subprocess.Popen[bytes]:
        monkeypatch.setenv("MARKER", str(pytester.path / name))
        started.append(popen(pytester, "-k", "postgres"))
        return started[-1]

    def wait_blocked(name: str, run: subprocess.Popen[bytes]) -> dict[str, object]:
        marker = pytester.path / name
        wait_for(lambda: marker.exists() or run.poll() is not None, f"the {name} run's test to start", 60)
        assert run.poll() is None, run.communicate()[0].decode()
        report: dict[str, object] = json.loads(marker.read_text())
        return report

    def of_run(report: dict[str, object]) -> set[str]:
        return {name for name in own_server.databases() if name.startswith(f"test_{report['run_id']}_")}

    try:
        live, dead = start_blocked("live"), start_blocked("dead")  # at once: start-up is most of their time
        live_report, dead_report = wait_blocked("live", live), wait_blocked("dead", dead)
        for report in (live_report, dead_report):
            assert "owner-secret" not in str(report["server_json"])  # the URL stays in the environment
            assert report["mode"] == 0o600
        live_dbs, dead_dbs = of_run(live_report), of_run(dead_report)
        assert {name.rsplit("_", 1)[1] for name in dead_dbs} == {"template", "main"}
        main = f"test_{dead_report['run_id']}_main"
        comment = own_server.execute(
            f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{main}'"
        )[0][0][0]
        record = json.loads(comment)
        assert record["testsupport"] == dead_report["run_id"]
        assert record["pid"] == dead.pid
        assert {"host", "boot_id", "started", "lock"} <= set(record)

        # The whole run dies at once, the holder of its lock too (a crash, a killed container).
        holder = json.loads(str(dead_report["server_json"]))["holder_pid"]
        os.kill(dead.pid, signal.SIGKILL)
        os.kill(holder, signal.SIGKILL)
        # Nothing of that run is left to remove its state folder (a few bytes in /tmp): this test does.
        shutil.rmtree(state_path(str(dead_report["run_id"])), ignore_errors=True)
        dead.wait()
        wait_for(lambda: not alive(holder), "the killed holder to be gone")
        assert of_run(dead_report) == dead_dbs  # nobody was left to clean up

        monkeypatch.delenv("MARKER")
        result = run_inprocess(pytester, monkeypatch, "-k", "postgres")
        result.assert_outcomes(passed=1, deselected=5)
        # At least these two, of this one run; a shared server may hold other killed runs' too.
        result.stdout.re_match_lines(
            [r".*PostgreSQL from TEST_POSTGRES_URL \(dropped \d+ databases left by \d+ killed runs\)"]
        )
        assert not of_run(dead_report)
        assert of_run(live_report) == live_dbs

        # Only pytest dies: the holder sees it and drops the run's databases at once.
        os.kill(live.pid, signal.SIGKILL)
        live.wait()
        live_state = state_path(str(live_report["run_id"]))
        wait_for(lambda: not of_run(live_report), "the live run's holder to drop its databases")
        wait_for(lambda: not live_state.exists(), "the live run's holder to remove its state folder")
    finally:
        for run in started:
            if run.poll() is None:
                run.kill()
            run.communicate()  # reaps it and closes its pipe


def test_a_database_whose_owner_record_never_came_is_swept_all_the_same(own_server: Server) -> None:
    """A kill between CREATE DATABASE and its COMMENT left a database no run ever swept (and the
    URL check's `test_<run>_probe` for good): the run is in the name, so the name is enough."""
    dead, live = uuid.uuid4().hex[:10], uuid.uuid4().hex[:10]
    dead_names = [f"test_{dead}_gw1_migrations3", f"test_{dead}_main", f"test_{dead}_probe"]
    names = [*dead_names, f"test_{live}_gw0_empty", f"test_{dead}_mine"]
    for name in names:
        own_server.create_database(name)  # no COMMENT: killed right after the CREATE

    async def hold_live_runs_lock(conn: asyncpg.Connection) -> dict[str, Any]:
        await conn.execute("SELECT pg_advisory_lock($1)", holder.lock_key(live))  # as its holder does
        return await anyio.to_thread.run_sync(sweep_dead_runs, own_server)

    try:
        swept = own_server.run(hold_live_runs_lock, database="template1")  # the lock in another database
        left = own_server.databases()
    finally:
        for name in names:
            own_server.drop_database(name)

    assert sorted(swept["dropped"]) == dead_names
    assert swept["runs"] == 1
    assert f"test_{live}_gw0_empty" in left  # its run is alive
    assert f"test_{dead}_mine" in left  # not a name testsupport gives
