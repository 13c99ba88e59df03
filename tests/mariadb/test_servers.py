"""MariaDB's servers: the throwaway one dies with a killed run, and on the user's server
(TEST_MARIADB_URL) each database a run creates names its owner, so a later run drops what killed
runs left, leaves live runs' databases and the user's own alone, and no file holds the password."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.inner import alive, popen, run_inprocess, wait_for
from tests.service_suite import use_service
from testsupport.maria.userserver import URL_ENV
from testsupport.mariadb import Server
from testsupport.pg.runstate import state_path

pytestmark = [pytest.mark.mariadb, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")]

SUITE = textwrap.dedent(
    """
    import json, os, pathlib, stat, tempfile, time

    async def test_uses_the_database(db_session):
        marker = os.environ.get("MARKER")
        if not marker:
            return
        state = pathlib.Path(tempfile.gettempdir()) / f"testsupport-{os.environ['TESTSUPPORT_RUN_ID']}"
        info = state / "mariadb.json"
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


def start_blocked(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str) -> subprocess.Popen[bytes]:
    monkeypatch.setenv("MARKER", str(pytester.path / name))
    return popen(pytester, "-k", "mariadb")


def wait_blocked(pytester: pytest.Pytester, name: str, run: subprocess.Popen[bytes]) -> dict[str, object]:
    marker = pytester.path / name
    wait_for(lambda: marker.exists() or run.poll() is not None, f"the {name} run's test to start", 60)
    assert run.poll() is None, run.communicate()[0].decode()
    report: dict[str, object] = json.loads(marker.read_text())
    return report


def test_a_killed_runs_throwaway_server_and_folders_are_gone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    use_service(pytester)
    pytester.makepyfile(test_inner=SUITE)
    run = start_blocked(pytester, monkeypatch, "blocked")
    try:
        report = wait_blocked(pytester, "blocked", run)
        info = json.loads(str(report["info"]))
        run_dir = Path(info["run_dir"])
        server_pid = json.loads((run_dir / "server.json").read_text())["pid"]
        assert alive(server_pid)
        assert alive(info["supervisor_pid"])
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        wait_for(lambda: not alive(server_pid), "the killed run's mariadbd to stop")
        wait_for(lambda: not alive(info["supervisor_pid"]), "the killed run's supervisor to exit")
        wait_for(lambda: not run_dir.exists(), "the server's data folder to be removed")
        wait_for(lambda: not state_path(str(report["run_id"])).exists(), "the run's state folder to be removed")
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()


@pytest.fixture
def user_url(own_mariadb: Server) -> tuple[str, Server]:
    """A server standing in for the user's, with a user of its own whose URL holds a password and
    a database of "the user's own" with a row. Always this test's own server, even when the outer
    run has a TEST_MARIADB_URL: other runs on a shared server sweep killed runs too, and would race
    this test for the databases it watches."""
    own_mariadb.execute(
        "CREATE USER IF NOT EXISTS 'owner'@'localhost' IDENTIFIED BY 'owner-secret'",
        "GRANT ALL ON `test\\_%`.* TO 'owner'@'localhost'",
        "GRANT SELECT ON `users_own`.* TO 'owner'@'localhost'",
        "CREATE DATABASE IF NOT EXISTS users_own",
        "CREATE TABLE IF NOT EXISTS users_own.t (id INT PRIMARY KEY)",
        "REPLACE INTO users_own.t VALUES (1)",
    )
    socket = own_mariadb.admin_url.query["unix_socket"]
    return f"mysql://owner:owner-secret@localhost/?unix_socket={socket}", own_mariadb


def test_a_killed_runs_databases_are_dropped_and_a_live_runs_and_the_users_kept(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, user_url: tuple[str, Server]
) -> None:
    url, server = user_url
    monkeypatch.setenv(URL_ENV, url)
    use_service(pytester)
    pytester.makepyfile(test_inner=SUITE)
    started: list[subprocess.Popen[bytes]] = []

    def of_run(report: dict[str, object]) -> set[str]:
        return {name for name in server.databases() if name.startswith(f"test_{report['run_id']}_")}

    def users_own() -> tuple[set[str], list[object]]:
        names = {name for name in server.databases() if not name.startswith("test_")}
        return names, server.execute("SELECT id FROM users_own.t")[0] if "users_own" in names else []

    before = users_own()

    try:
        started += [start_blocked(pytester, monkeypatch, "live"), start_blocked(pytester, monkeypatch, "dead")]
        live, dead = started
        live_report, dead_report = wait_blocked(pytester, "live", live), wait_blocked(pytester, "dead", dead)
        for report in (live_report, dead_report):
            assert "owner-secret" not in str(report["info"])  # the URL stays in the environment
            assert report["mode"] == 0o600
        live_dbs, dead_dbs = of_run(live_report), of_run(dead_report)
        assert dead_dbs == {f"test_{dead_report['run_id']}_main"}
        comment = server.execute(
            f"SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{next(iter(dead_dbs))}'"
        )[0][0][0]
        record = json.loads(comment)
        assert record["testsupport"] == dead_report["run_id"]
        assert record["pid"] == dead.pid
        assert {"host", "boot_id", "started"} <= set(record)

        # The whole run dies at once, the holder of its lock too (a crash, a killed container).
        holder = json.loads(str(dead_report["info"]))["holder_pid"]
        os.kill(dead.pid, signal.SIGKILL)
        os.kill(holder, signal.SIGKILL)
        shutil.rmtree(state_path(str(dead_report["run_id"])), ignore_errors=True)  # nobody is left to
        dead.wait()
        wait_for(lambda: not alive(holder), "the killed holder to be gone")
        assert of_run(dead_report) == dead_dbs  # nobody was left to clean up

        monkeypatch.delenv("MARKER")
        result = run_inprocess(pytester, monkeypatch, "-k", "mariadb")
        result.assert_outcomes(passed=1, deselected=5)
        result.stdout.re_match_lines(
            [r".*MariaDB from TEST_MARIADB_URL \(dropped \d+ databases left by \d+ killed runs\)"]
        )
        assert not of_run(dead_report)
        assert of_run(live_report) == live_dbs

        # Only pytest dies: the holder sees it and drops the run's databases at once.
        os.kill(live.pid, signal.SIGKILL)
        live.wait()
        wait_for(lambda: not of_run(live_report), "the live run's holder to drop its databases")
        wait_for(lambda: not state_path(str(live_report["run_id"])).exists(), "the holder to remove the state folder")
        assert users_own() == before
    finally:
        for run in started:
            if run.poll() is None:
                run.kill()
            run.communicate()


def test_a_bad_url_stops_the_run_naming_the_fix_without_its_password(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, user_url: tuple[str, Server]
) -> None:
    url = user_url[0].replace("owner-secret", "wrong-secret")
    monkeypatch.setenv(URL_ENV, url)
    use_service(pytester)
    pytester.makepyfile(test_inner=SUITE)
    result = run_inprocess(pytester, monkeypatch, "-k", "mariadb")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [
            "*TEST_MARIADB_URL=mysql://owner:***@localhost/*: OperationalError: (1045, *Access denied*"
            "*fix TEST_MARIADB_URL*"
        ]
    )
    assert "wrong-secret" not in result.stdout.str() + result.stderr.str()
