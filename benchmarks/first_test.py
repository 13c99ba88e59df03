"""pytest plugin for benchmarks/startup.py: writes the time the first test starts to $FIRST_TEST_FILE."""

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
        with open(os.environ["FIRST_TEST_FILE"], "w") as out:
            out.write(repr(time.time()))
