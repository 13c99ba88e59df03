"""Ctrl-C during a PostgreSQL test: exit code 2 and pytest's one-line KeyboardInterrupt summary,
with the test's transaction rolled back cleanly (issue 13 item 7)."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time

import pytest

from tests.inner import popen
from tests.service_suite import use_service
from testsupport.postgres import URL_ENV

pytestmark = pytest.mark.postgres

SUITE = textwrap.dedent(
    """
    import os, pathlib
    import anyio
    from sqlalchemy import text

    async def test_interrupted(db_session):
        await db_session.execute(text("CREATE TABLE interrupted (n int)"))
        marker = pathlib.Path(os.environ["MARKER"])
        if os.environ["MODE"] == "awaiting":
            marker.write_text("running")
            await anyio.sleep(60)
        # busy: the interrupt lands anywhere in the driver's or SQLAlchemy's code
        for n in range(10**7):
            await db_session.execute(text("INSERT INTO interrupted VALUES (:n)"), {"n": n})
            if n == 200:
                marker.write_text("running")
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to a process group")
def test_ctrl_c_exits_with_code_2_and_one_line(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    use_service(pytester)
    pytester.makepyfile(test_interrupt=SUITE)
    runs = {}
    for mode in ("awaiting", "busy"):  # at once: each run's start-up is most of its time
        monkeypatch.setenv("MARKER", str(pytester.path / mode))
        monkeypatch.setenv("MODE", mode)
        runs[mode] = popen(pytester, "-k", "postgres", new_session=True)
    try:
        for mode, run in runs.items():
            marker = pytester.path / mode
            deadline = time.monotonic() + 60
            while not marker.exists():
                assert run.poll() is None, run.communicate()[0].decode()
                assert time.monotonic() < deadline, f"the inner test ({mode}) did not start in 60 s"
                time.sleep(0.02)
            os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        for mode, run in runs.items():
            output = run.communicate(timeout=60)[0].decode()

            assert run.returncode == pytest.ExitCode.INTERRUPTED, (mode, output)
            assert "!! KeyboardInterrupt !!" in output, (mode, output)
            assert "Traceback" not in output, (mode, output)
            assert "closed in the middle" not in output, (mode, output)
    finally:
        for run in runs.values():
            if run.poll() is None:  # the test failed before its Ctrl-C: the run must not outlive it
                run.kill()
                run.communicate()
