"""MariaDB's servers: the throwaway one dies with a killed run, and a bad URL of the user's server
(TEST_MARIADB_URL) stops the run without its password. What a run leaves on the user's server, on
every target: tests/serverrun/test_owners.py."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.inner import alive, run_inprocess, wait_for
from tests.serverrun.owners import PASSWORD, mariadb_owner, start_blocked, suite, wait_blocked
from tests.service_suite import use_service
from testsupport.maria.userserver import URL_ENV
from testsupport.pg.runstate import state_path

pytestmark = [pytest.mark.mariadb, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")]

SUITE = suite("mariadb.json")


def test_a_killed_runs_throwaway_server_and_folders_are_gone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    use_service(pytester)
    pytester.makepyfile(test_inner=SUITE)
    run = start_blocked(pytester, monkeypatch, "blocked", "mariadb")
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


def test_a_bad_url_stops_the_run_naming_the_fix_without_its_password(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    url = mariadb_owner(request)[0].replace(PASSWORD, "wrong-secret")
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
