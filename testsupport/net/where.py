"""Where the net's messages say something happened: the code that created an engine or used it, the
thread or task it ran in, and what is known of an engine made before the net was installed. Only
``creation_site`` runs on a normal path (once per engine); the rest builds error messages."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import importlib
import os
import sys
import sysconfig
import threading
import weakref
from collections.abc import Iterator
from types import CodeType, FrameType
from typing import Any

import _pytest
import anyio
import pluggy
import pytest
import sqlalchemy
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

_NET = os.path.dirname(__file__)
_TESTSUPPORT = os.path.dirname(_NET)
_LIBRARIES = tuple(os.path.dirname(m.__file__ or "") for m in (sqlalchemy, anyio, asyncio, concurrent.futures))
# Never where an engine was created: import machinery (importlib, and testsupport resolving the
# `testsupport_*` keys at start-up), test collection.
_NOT_CREATORS = (
    *(os.path.dirname(module.__file__ or "") for module in (sqlalchemy, _pytest, pytest, pluggy, importlib)),
    _NET,
    *(
        os.path.join(_TESTSUPPORT, name)
        for name in ("config.py", "plugin.py", "resolve.py", "app_target.py", "session_source.py")
    ),
    "<",
)
# Never the code that used an engine: the libraries between it and the net's listener.
_RUNNER = tuple(os.path.dirname(m.__file__ or "") for m in (_pytest, pytest, pluggy))
_NOT_USERS = (*_LIBRARIES, _NET)
# This interpreter's and every site-packages on sys.path: an overlay environment (`uv run --with`)
# has the project's packages on a site-packages of another environment.
_INSTALLED = tuple(
    {
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        *(p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")),
    }
)
_NOT_USERS += (threading.__file__, contextlib.__file__, "<")


def _shown(path: str) -> str:
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if shown.startswith("..") else shown


def _frame(frame: FrameType) -> str:
    return f"{_shown(frame.f_code.co_filename)}:{frame.f_lineno} ({frame.f_code.co_name})"


def _stack(frame: FrameType | None) -> Iterator[FrameType]:
    """The frames from ``frame`` outwards, across greenlets: SQLAlchemy's async layer runs the sync
    code in a child greenlet whose stack ends at its first frame; the awaiting code is below the
    parent greenlet's suspended frame."""
    greenlet = sys.modules.get("greenlet")
    current = greenlet.getcurrent() if greenlet is not None else None
    while True:
        while frame is not None:
            yield frame
            frame = frame.f_back
        current = getattr(current, "parent", None)
        if current is None:
            return
        frame = current.gr_frame


def creation_site(limit: int = 2) -> str:
    """The first frames outside SQLAlchemy and the net: where an engine was created."""
    frame: FrameType | None = sys._getframe(2)
    sites: list[str] = []
    while frame is not None and len(sites) < limit:
        if not frame.f_code.co_filename.startswith(_NOT_CREATORS):
            sites.append(_frame(frame))
            if frame.f_code.co_name == "<module>":
                break  # a module's import: what called it is import machinery
        frame = frame.f_back
    return ", called from ".join(sites) or "an unknown place"


def code_site(limit: int = 2) -> str:
    """The innermost frames outside the libraries: the code that used the engine, and its caller."""
    sites: list[str] = []
    for frame in _stack(sys._getframe(1)):
        path = frame.f_code.co_filename
        if path.startswith(_RUNNER):
            break  # pytest calling a test or fixture: what is below is the test run itself
        # testsupport's own modules wrap the tests and fixtures (its pitfall suites are user code)
        if sites and path.startswith(_INSTALLED):
            break  # the caller is a framework (FastAPI calling the handler): the code is the first site
        if not path.startswith(_NOT_USERS) and os.path.dirname(path) != _TESTSUPPORT:
            sites.append(_frame(frame))
            if len(sites) == limit or frame.f_code.co_name == "<module>":
                break
    return ", called from ".join(sites) or "an unknown place"


def actor(test_code: CodeType | None) -> str:
    """'thread `name` (running f)' or 'task `name` (running coro)' when neither the main thread nor
    the test's own task (or anyio's runner task, which runs the fixtures) is running; else ''."""
    thread = threading.current_thread()
    if thread is not threading.main_thread():
        target = getattr(thread, "_target", None)  # set while the thread runs
        running = f" (running {getattr(target, '__qualname__', target)})" if target is not None else ""
        return f"thread `{thread.name}`{running}"
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop
        return ""
    if task is None:
        return ""
    coro: Any = task.get_coro()
    code = getattr(coro, "cr_code", None)
    if code is None or code is test_code or code.co_name == "_run_tests_and_fixtures":  # the test, the runner
        return ""
    if not code.co_filename.startswith((_TESTSUPPORT, *_LIBRARIES)):
        return f"task `{task.get_name()}` (running {getattr(code, 'co_qualname', code.co_name)})"
    # A library's wrapper: anyio names a task group's task after its function ("Task-N" is asyncio's).
    return "" if task.get_name().startswith("Task-") else f"task `{task.get_name()}`"


_unrecorded: weakref.WeakKeyDictionary[Dialect, str] = weakref.WeakKeyDictionary()


def unrecorded_engine(dialect: Dialect) -> str:
    """'the engine for URL (held by module.name)' for an engine the net never saw created. Walks the
    heap once per engine: only an error message pays for it."""
    if dialect not in _unrecorded:
        engine = next((o for o in gc.get_objects() if isinstance(o, Engine) and o.dialect is dialect), None)
        if engine is None:
            _unrecorded[dialect] = f"the engine for {dialect.name}+{dialect.driver}"
        else:
            holders = [
                f"`{module.__name__}.{name}`"
                for module in list(sys.modules.values())
                for name, value in list(getattr(module, "__dict__", {}).items())
                if value is engine or (isinstance(value, AsyncEngine) and value.sync_engine is engine)
            ]
            held = f" (held by {', '.join(holders)})" if holders else ""
            _unrecorded[dialect] = f"the engine for {engine.url.render_as_string(hide_password=True)}{held}"
    return _unrecorded[dialect]
