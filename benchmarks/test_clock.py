"""pytest plugin for benchmarks/isolation.py: the per-test time inside one run.

Writes "<tests> <seconds>" to $TEST_CLOCK_FILE: from the set-up of test number SKIP to the set-up of
the last test. Start-up, collection, the session fixtures (built for the first test) and the
session teardown are outside that window, so their run-to-run noise is not spread over the tests.
Not under xdist (the workers run the tests; isolation.py times the -n 2 rows by wall clock).
"""

from __future__ import annotations

import os
import time

import pytest

SKIP = 10
_seen = 0
_first = _last = 0.0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _seen, _first, _last
    now = time.perf_counter()
    if _seen == SKIP:
        _first = now
    _last = now
    _seen += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _seen > SKIP + 1 and not hasattr(session.config, "workerinput"):
        with open(os.environ["TEST_CLOCK_FILE"], "w") as out:
            out.write(f"{_seen - 1 - SKIP} {_last - _first}")
