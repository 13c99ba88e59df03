"""What a killed run leaves goes with the next run (issue 20 item 4): its folder in the temp
directory, its SQLite folder and its server's socket folder; and the inner runs this suite kills
never outlive the test that started them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.inner import alive, popen, run_inprocess, wait_for
from tests.service_suite import use_service
from testsupport.pg.runstate import state_path
from testsupport.postgres import URL_ENV

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")]

BLOCKING_SUITE = textwrap.dedent(
    """
    import json, os, pathlib, tempfile, time

    def test_blocks_until_killed(sqlite_folder, postgres_url):
        run = os.environ["TESTSUPPORT_RUN_ID"]
        state = pathlib.Path(tempfile.gettempdir()) / f"testsupport-{run}"
        info = json.loads((state / "server.json").read_text())
        report = {"run_id": run, "sqlite_folder": str(sqlite_folder), **info}
        pathlib.Path(os.environ["MARKER"] + ".tmp").write_text(json.dumps(report))
        os.replace(os.environ["MARKER"] + ".tmp", os.environ["MARKER"])
        time.sleep(300)
    """
)


def test_a_killed_runs_folders_go_with_the_next_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole run is killed at once, its server's supervisor too (a container stopped, an OOM
    kill): nothing of it is left to clean up, so the next run does."""
    monkeypatch.delenv(URL_ENV, raising=False)
    marker = pytester.path / "blocked.json"
    monkeypatch.setenv("MARKER", str(marker))
    use_service(pytester)
    pytester.makepyfile(test_block=BLOCKING_SUITE)
    run = popen(pytester, "-k", "blocks")
    try:
        wait_for(lambda: marker.exists() or run.poll() is not None, "the inner run's test to start", 60)
        assert run.poll() is None, run.communicate()[0].decode()
        report = json.loads(marker.read_text())
        os.kill(report["supervisor_pid"], signal.SIGKILL)  # first: it would clean up after pytest
        os.kill(run.pid, signal.SIGKILL)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    wait_for(lambda: not alive(report["supervisor_pid"]), "the supervisor to be gone")
    left = [state_path(report["run_id"]), Path(report["sqlite_folder"]), Path(report["run_dir"])]
    assert all(path.exists() for path in left)  # nobody was left to remove them

    monkeypatch.delenv("MARKER")
    pytester.makepyfile(test_block="def test_nothing():\n    pass\n")
    run_inprocess(pytester, monkeypatch, "-k", "nothing").assert_outcomes(passed=1)

    assert [path for path in left if path.exists()] == []


OUTER = textwrap.dedent(
    """
    import sys, time, types
    from pathlib import Path
    from tests.inner import popen

    inner = popen(types.SimpleNamespace(path=Path(sys.argv[1])), "-q", "test_sleeps.py")
    print(inner.pid, flush=True)
    time.sleep(300)
    """
)


def test_an_inner_run_dies_with_the_test_that_started_it(tmp_path: Path) -> None:
    """A kill test killed itself (kill -9 of the outer run) left its inner pytest, sleeping 300 s,
    and that run's embedded server alive for minutes."""
    (tmp_path / "test_sleeps.py").write_text("import time\n\ndef test_sleeps():\n    time.sleep(300)\n")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    outer = subprocess.Popen(
        [sys.executable, "-c", OUTER, str(tmp_path)], stdout=subprocess.PIPE, env=env, cwd=tempfile.gettempdir()
    )
    try:
        assert outer.stdout is not None
        inner = int(outer.stdout.readline())
        assert alive(inner)
        os.kill(outer.pid, signal.SIGKILL)
    finally:
        if outer.poll() is None:
            outer.kill()
        outer.communicate()
    wait_for(lambda: not alive(inner), "the inner run to die with the test that started it", 10)
