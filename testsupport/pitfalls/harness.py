"""The conftest.py of the inner pytest session that runs many pitfall suites at once, each as if
it ran alone. Not part of any suite: a user's project runs one suite per session.

- ``DATABASE_URL`` is the suite's own database (urls.json, written by testsupport.pitfalls.run),
  set before its module is imported and before each of its tests.
- When the next test belongs to another suite, every fixture is torn down, session-scoped ones
  included, as at the end of a session: a suite's session fixtures hold anyio's runner (its event
  loop) open, and must not hand that loop to the next suite.
- Then logging is put back as it was: Alembic's env.py runs logging.config.fileConfig(), which
  disables every existing logger (SQLAlchemy's pool among them) for the rest of the process
  (disable_existing_loggers defaults to True:
  https://docs.python.org/3/library/logging.config.html#logging.config.fileConfig).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol

ROOT = Path(__file__).parent
LoggerState = tuple[int, bool, bool, list[logging.Handler]]
LOGGING = pytest.StashKey[dict[logging.Logger, LoggerState]]()


@functools.cache
def _urls() -> dict[str, str]:
    urls: dict[str, str] = json.loads((ROOT / "urls.json").read_text())
    return urls


def _url(path: Path) -> str:
    return _urls()[_suite(path)]


def _suite(path: Path) -> str:
    return path.parent.relative_to(ROOT).as_posix()


def _logging_state() -> dict[logging.Logger, LoggerState]:
    loggers = [logging.root, *(x for x in logging.root.manager.loggerDict.values() if isinstance(x, logging.Logger))]
    return {x: (x.level, x.disabled, x.propagate, list(x.handlers)) for x in loggers}


def _restore_logging(state: dict[logging.Logger, LoggerState]) -> None:
    for logger in _logging_state():
        level, disabled, propagate, handlers = state.get(logger, (logging.NOTSET, False, True, []))
        logger.setLevel(level)
        logger.disabled, logger.propagate, logger.handlers[:] = disabled, propagate, handlers


def pytest_sessionstart(session: pytest.Session) -> None:
    session.stash[LOGGING] = _logging_state()


def pytest_collectstart(collector: pytest.Collector) -> None:
    if isinstance(collector, pytest.Module):
        os.environ["DATABASE_URL"] = _url(collector.path)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    os.environ["DATABASE_URL"] = _url(item.path)
    if nextitem is not None and _suite(nextitem.path) != _suite(item.path):
        nextitem = None  # tear the whole stack down, session included (what pytest does last)
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    runtestprotocol(item, nextitem=nextitem)
    if nextitem is None:
        _restore_logging(item.session.stash[LOGGING])
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
