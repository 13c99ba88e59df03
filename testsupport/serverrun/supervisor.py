"""The loop of a throwaway server's supervisor, the same for every target (``pg.supervisor``,
``maria.supervisor`` say how their server starts, when it is ready and how it stops).

The supervisor runs in its own session (so Ctrl-C in the terminal reaches pytest, not it), starts
the server as its child, writes ``RUN_DIR/server.json`` once the server accepts connections, and
then watches OWNER_PID (the pytest process, or the xdist controller). When the owner exits
(normally, by Ctrl-C or by SIGKILL) or sends SIGTERM, it stops the server and removes RUN_DIR; if
the owner died without cleaning up, the run's STATE_DIR too. If the supervisor itself is killed,
the kernel signals the server (``die_with_parent``)."""

from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from testsupport.pg.runstate import pid_alive, write_json

READY_FILE = "server.json"
POLL_SECONDS = 0.05
_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int) -> Callable[[], None]:
    """A ``preexec_fn``: the server gets ``signum`` when its supervisor dies (PR_SET_PDEATHSIG)."""

    def arm() -> None:
        # Runs in the child after setuid (CPython applies user= before preexec_fn), which matters:
        # a change of credentials clears the parent-death signal.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)

    return arm


def supervise(
    owner_pid: int,
    run_dir: Path,
    state_dir: Path,
    start: Callable[[], subprocess.Popen[bytes]],
    ready: Callable[[], bool],
    stop: Callable[[subprocess.Popen[bytes]], None],
    ready_poll: float,
) -> int:
    """Start the server (``start``), wait until ``ready()`` (checked every ``ready_poll`` s), watch the
    owner, ``stop`` the server still running at the end; the exit status."""
    server: subprocess.Popen[bytes] | None = None
    stopping = False

    def _on_term(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    try:
        server = start()
        while not ready():
            if server.poll() is not None or stopping or not pid_alive(owner_pid):
                return 1
            time.sleep(ready_poll)
        write_json(run_dir / READY_FILE, {"pid": server.pid})  # atomic: its presence says "ready"
        while not stopping and pid_alive(owner_pid) and server.poll() is None:
            time.sleep(POLL_SECONDS)
        return 0
    finally:
        if server is not None and server.poll() is None:
            stop(server)
        # Keep the log of a server that never became ready: the test run shows it.
        if (run_dir / READY_FILE).exists() or not pid_alive(owner_pid):
            shutil.rmtree(run_dir, ignore_errors=True)
        if not pid_alive(owner_pid):
            shutil.rmtree(state_dir, ignore_errors=True)
