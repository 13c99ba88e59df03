"""pytest plugin for the benchmarks: the per-test time inside one run.

benchmarks/isolation.py: writes "<tests> <seconds>" to $TEST_CLOCK_FILE: from the set-up of test
number SKIP to the set-up of the last test. Start-up, collection, the session fixtures (built for
the first test) and the session teardown are outside that window, so their run-to-run noise is not
spread over the tests. Not under xdist (the workers run the tests; isolation.py times the -n 2 rows
by wall clock).

benchmarks/load.py: with $TEST_CLOCK_TRACE set, also writes one line per test to that file: its
node id, the time of its set-up, and every SAMPLE_EVERY tests and at the last the process's resources (RSS, open
file descriptors, sockets among them, and with $TEST_CLOCK_PG_URL the server's client connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

SKIP = 10
SAMPLE_EVERY = 250
_seen = 0
_first = _last = 0.0
_trace: list[str] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _seen, _first, _last
    now = time.perf_counter()
    if _seen == SKIP:
        _first = now
    _last = now
    if "TEST_CLOCK_TRACE" in os.environ:
        sampled = _seen % SAMPLE_EVERY == 0 or _seen == len(item.session.items) - 1
        sample = " ".join(map(str, resources())) if sampled else "-"
        _trace.append(f"{item.nodeid} {now} {sample}")
    _seen += 1


def resources() -> tuple[int, int, int, int]:
    """RSS in kB, open file descriptors, sockets among them, the server's client connections (-1: none)."""
    rss = next(
        int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:")
    )
    fds = list(Path("/proc/self/fd").iterdir())
    sockets = 0
    for fd in fds:
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed since
            sockets += os.readlink(fd).startswith("socket:")
    return rss, len(fds), sockets, server_connections()


def server_connections() -> int:
    """Client backends on the PostgreSQL server at $TEST_CLOCK_PG_URL, but this query's own; -1 without
    one. Asked from a thread with a loop of its own: the session's loop is not running between tests,
    and must not be touched."""
    url = os.environ.get("TEST_CLOCK_PG_URL")
    if not url:
        return -1
    import asyncpg

    async def count() -> int:
        conn = await asyncpg.connect(url)
        try:
            query = "SELECT count(*) - 1 FROM pg_stat_activity WHERE backend_type = 'client backend'"
            return int(await conn.fetchval(query))
        finally:
            await conn.close()

    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(count())))
    thread.start()
    thread.join()
    return result[0]


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _seen > SKIP + 1 and not hasattr(session.config, "workerinput") and "TEST_CLOCK_FILE" in os.environ:
        with open(os.environ["TEST_CLOCK_FILE"], "w") as out:
            out.write(f"{_seen - 1 - SKIP} {_last - _first}")
    if "TEST_CLOCK_TRACE" in os.environ:
        Path(os.environ["TEST_CLOCK_TRACE"]).write_text("\n".join(_trace) + "\n")
