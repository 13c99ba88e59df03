"""Ctrl-C during a PostgreSQL test: exit code 2 and pytest's one-line KeyboardInterrupt summary,
with the test's transaction rolled back cleanly (issue 13 item 7)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

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
@pytest.mark.parametrize("mode", ["awaiting", "busy"])
def test_ctrl_c_exits_with_code_2_and_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    marker = pytester.path / "running"
    monkeypatch.setenv("MARKER", str(marker))
    monkeypatch.setenv("MODE", mode)
    pytester.makeconftest('pytest_plugins = ["testsupport.plugin"]')
    pytester.makepyfile(test_interrupt=SUITE)
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:asyncio", "-p", "no:cacheprovider", "-k", "postgres"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, as a terminal gives a command
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert run.poll() is None, run.communicate()[0].decode()
        assert time.monotonic() < deadline, "the inner test did not start in 60 s"
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    output = run.communicate(timeout=60)[0].decode()

    assert run.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "!! KeyboardInterrupt !!" in output, output
    assert "Traceback" not in output, output
    assert "closed in the middle" not in output, output
