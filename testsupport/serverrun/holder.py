"""Who owns a test database on the user's server, and whether that run is still alive: the same
for every target (``pg.holder`` takes PostgreSQL's advisory lock, ``maria.holder`` MariaDB's named
lock, and each drops its own databases).

A run on the user's server starts a small process before it creates any database, ``python -m
<target's holder> OWNER_PID RUN_ID STATE_DIR``, the URL on stdin (so no password is in a file or in
the process list); it connects, takes the run's lock (``lock_name``) and holds it for as long as
OWNER_PID (the pytest process, or the xdist controller) lives. The server releases the lock when
the holding connection ends, however its process ended, so another run, on any host, tells a dead
run from a live one by whether the lock is held. Each database the run creates carries the owner
record (``owner_record``) for people. When the owner dies (kill -9) the holder drops the run's
databases and its STATE_DIR itself and exits; if the holder dies too (the whole machine, kill -9
of both), the next run drops them. It runs in its own session, so Ctrl-C in the terminal reaches
pytest only."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

from testsupport.pg.runstate import pid_alive

MARK = "testsupport"  # the key in a database's owner record
POLL_SECONDS = 0.05


def lock_name(run_id: str) -> str:
    return f"testsupport-run:{run_id}"  # MariaDB's named locks are server-wide, at most 64 characters


def lock_key(run_id: str) -> int:
    """The lock as a signed 64-bit key (PostgreSQL's advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(lock_name(run_id).encode()).digest()[:8], "big", signed=True)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def owner_record(run_id: str, owner_pid: int, lock_database: str) -> dict[str, Any]:
    """What a database's COMMENT says about its owner. The lock (in ``lock_database``: advisory
    locks are per database) decides liveness; the rest is for the person reading \\l+."""
    return {
        MARK: run_id,
        "lock": lock_key(run_id),
        "lock_database": lock_database,
        "host": socket.gethostname(),
        "pid": owner_pid,
        "boot_id": _boot_id(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def sigterm_event() -> asyncio.Event:
    """Set by SIGTERM: the owner's clean end of the run."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    return stop


async def watch(
    stop: asyncio.Event,
    owner_pid: int,
    state_dir: Path,
    closed: Callable[[], bool],
    drop_own: Callable[[], Awaitable[object]],
) -> None:
    """With the lock taken: say so, and hold it until ``stop``, the owner's end or the connection's
    (``closed``). After the owner's end (the run was killed) drop its databases and folder."""
    print("ready", flush=True)
    while not stop.is_set() and pid_alive(owner_pid) and not closed():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_SECONDS)
    if not pid_alive(owner_pid):  # the run was killed: clean up after it
        await drop_own()
        shutil.rmtree(state_dir, ignore_errors=True)


def main(hold: Callable[[str, int, str, Path], Coroutine[Any, Any, int]]) -> NoReturn:
    """A holder's ``__main__``: ``hold(url, owner_pid, run_id, state_dir)`` from argv and stdin."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the owner's end or SIGTERM stops it
    owner, run, state = sys.argv[1:4]
    sys.exit(asyncio.run(hold(sys.stdin.readline().strip(), int(owner), run, Path(state))))
