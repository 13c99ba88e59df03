"""pytest plugin for benchmarks/startup.py: adds the time this process's first test starts to
$FIRST_TEST_FILE (a line per process: each xdist worker has its own first test)."""

from __future__ import annotations

import os
import time

import pytest

_written = False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _written
    if not _written:
        _written = True
        with open(os.environ["FIRST_TEST_FILE"], "a") as out:
            out.write(f"{time.time()!r}\n")
