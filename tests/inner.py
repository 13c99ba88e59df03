"""Inner pytest runs in this process: a new interpreter and its imports cost about a second per
run, the run itself tens of milliseconds. Only runs that must be killed or interrupted need a
process of their own.

The plugin keeps the run's identity in the environment and in testsupport.pg.runstate; an inner
run replaces both (it is a run of its own), so they are restored when the test ends.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# An inner run in this process drops the modules it imported first (pytester's SysModulesSnapshot).
# testsupport imports asyncpg only when it reaches PostgreSQL, so an inner run may be the first to;
# asyncpg's compiled modules cannot be imported twice in one process (the xdist worker crashed).
import asyncpg  # noqa: F401
import pytest

from testsupport.pg import runstate

# Plugins named, not discovered: reading every installed package's entry points costs more than
# the inner run itself.
ARGS = ("-p", "anyio.pytest_plugin", "-p", "testsupport.plugin", "-p", "no:cacheprovider")


def _die_with_parent() -> None:
    # The inner runs block for minutes until killed: if the test that started one is killed first
    # (kill -9 of the outer run), the kernel kills it too (PR_SET_PDEATHSIG; prctl(2)), and its
    # server's supervisor, watching it, stops the server.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_PR_SET_PDEATHSIG = 1


def popen(pytester: pytest.Pytester, *args: str, new_session: bool = False) -> subprocess.Popen[bytes]:
    """An inner run in a process of its own (for runs that are killed or interrupted), output
    piped, killed with the process that started it; ``new_session``: in a process group of its
    own, as a terminal starts a command."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", *ARGS, *args],
        cwd=pytester.path,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=new_session,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


def run_inprocess(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str, autoload: bool = False
) -> pytest.RunResult:
    """An inner run in this process; ``autoload``: plugins found by their entry points, as a user's
    run finds them (slower), instead of named."""
    for name in (runstate.RUN_ID_ENV, runstate.OWNER_ENV):
        value = os.environ.get(name)
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(runstate, "_worker", runstate._worker)
    monkeypatch.setattr(runstate, "_reuse", runstate._reuse)
    if autoload:
        monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
        return pytester.runpytest_inprocess(*args)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest_inprocess(*ARGS, *args)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie is dead, it only waits for its new parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.02)
