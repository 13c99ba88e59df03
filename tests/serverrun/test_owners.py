"""On the user's server (TEST_POSTGRES_URL, TEST_MARIADB_URL) each database a run creates names its
owner, so a later run, on any host, drops what killed runs left and leaves live runs' databases
alone (and the user's own); and no file of the run holds the URL's password (issue 13 item 5).
One scenario, every target: what differs is in ``Target``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.inner import alive, run_inprocess, wait_for
from tests.serverrun.owners import PASSWORD, mariadb_owner, postgres_owner, start_blocked, suite, wait_blocked
from tests.service_suite import use_service
from testsupport import mariadb, postgres
from testsupport.pg.runstate import state_path

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


@dataclass(frozen=True)
class Target:
    marker: str  # the target's marker, and the inner run's -k
    name: str  # in the run's summary line
    url_env: str
    info_file: str  # the run's server info, in its folder
    owner: Callable[[pytest.FixtureRequest], tuple[str, Any]]  # the URL with a password, the server's admin
    suffixes: set[str]  # of the databases a run creates
    comment: str  # the query for a database's COMMENT, {name} for its name
    recorded: set[str]  # keys of the owner record besides the run and its pid
    users_own: Callable[[Any], object]  # what of the user's own must be left alone


def _mariadb_users_own(server: mariadb.Server) -> object:
    names = {name for name in server.databases() if not name.startswith("test_")}
    return names, server.execute("SELECT id FROM users_own.t")[0] if "users_own" in names else []


TARGETS = [
    pytest.param(
        Target(
            "postgres",
            "PostgreSQL",
            postgres.URL_ENV,
            "server.json",
            postgres_owner,
            {"template", "main"},
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{name}'",
            {"host", "boot_id", "started", "lock"},
            lambda server: None,  # a stand-in with no database of the user's (or a shared server)
        ),
        marks=pytest.mark.postgres,
        id="postgres",
    ),
    pytest.param(
        Target(
            "mariadb",
            "MariaDB",
            mariadb.URL_ENV,
            "mariadb.json",
            mariadb_owner,
            {"main"},
            "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'",
            {"host", "boot_id", "started"},
            _mariadb_users_own,
        ),
        marks=pytest.mark.mariadb,
        id="mariadb",
    ),
]


@pytest.mark.parametrize("target", TARGETS)
def test_a_killed_runs_databases_are_dropped_and_a_live_runs_kept(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, target: Target
) -> None:
    url, server = target.owner(request)
    monkeypatch.setenv(target.url_env, url)
    use_service(pytester)
    pytester.makepyfile(test_inner=suite(target.info_file))
    started: list[subprocess.Popen[bytes]] = []

    def of_run(report: dict[str, object]) -> set[str]:
        return {name for name in server.databases() if name.startswith(f"test_{report['run_id']}_")}

    before = target.users_own(server)
    try:
        # At once: start-up is most of their time.
        started += [start_blocked(pytester, monkeypatch, name, target.marker) for name in ("live", "dead")]
        live, dead = started
        live_report, dead_report = wait_blocked(pytester, "live", live), wait_blocked(pytester, "dead", dead)
        for report in (live_report, dead_report):
            assert PASSWORD not in str(report["info"])  # the URL stays in the environment
            assert report["mode"] == 0o600
        live_dbs, dead_dbs = of_run(live_report), of_run(dead_report)
        assert {name.removeprefix(f"test_{dead_report['run_id']}_") for name in dead_dbs} == target.suffixes
        main = f"test_{dead_report['run_id']}_main"
        record = json.loads(server.execute(target.comment.format(name=main))[0][0][0])
        assert record["testsupport"] == dead_report["run_id"]
        assert record["pid"] == dead.pid
        assert target.recorded <= set(record)

        # The whole run dies at once, the holder of its lock too (a crash, a killed container).
        holder = json.loads(str(dead_report["info"]))["holder_pid"]
        os.kill(dead.pid, signal.SIGKILL)
        os.kill(holder, signal.SIGKILL)
        # Nothing of that run is left to remove its state folder (a few bytes in /tmp): this test does.
        shutil.rmtree(state_path(str(dead_report["run_id"])), ignore_errors=True)
        dead.wait()
        wait_for(lambda: not alive(holder), "the killed holder to be gone")
        assert of_run(dead_report) == dead_dbs  # nobody was left to clean up

        monkeypatch.delenv("MARKER")
        result = run_inprocess(pytester, monkeypatch, "-k", target.marker)
        result.assert_outcomes(passed=1, deselected=5)
        # At least that run's, of this one run; a shared server may hold other killed runs' too.
        result.stdout.re_match_lines(
            [rf".*{target.name} from {target.url_env} \(dropped \d+ databases left by \d+ killed runs\)"]
        )
        assert not of_run(dead_report)
        assert of_run(live_report) == live_dbs

        # Only pytest dies: the holder sees it and drops the run's databases at once.
        os.kill(live.pid, signal.SIGKILL)
        live.wait()
        live_state = state_path(str(live_report["run_id"]))
        wait_for(lambda: not of_run(live_report), "the live run's holder to drop its databases")
        wait_for(lambda: not live_state.exists(), "the live run's holder to remove its state folder")
        assert target.users_own(server) == before
    finally:
        for run in started:
            if run.poll() is None:
                run.kill()
            run.communicate()  # reaps it and closes its pipe
