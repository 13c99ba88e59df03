"""Ctrl-C during an async test on asyncio ends the run the way pytest's convention says: exit
code 2 and one "KeyboardInterrupt" line, with every fixture torn down cleanly.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be:
inside the event loop that can be asyncpg's protocol code, SQLAlchemy's greenlet bridge or the
middle of a query. The connection is then broken ("connection was closed in the middle of
operation" in the db_session/db_connection teardown, exit code 1 and a long traceback), and a
KeyboardInterrupt inside a C extension has even crashed the interpreter. So while an async test
runs, the first Ctrl-C cancels the test's task instead (it unwinds at its current ``await``, like
asyncio.Runner's own SIGINT handling, https://docs.python.org/3/library/asyncio-runner.html#handling-keyboard-interruption)
and the KeyboardInterrupt is raised once the loop is idle, outside it. A second Ctrl-C raises at
once, for a test stuck in blocking code that never reaches an ``await``.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
from collections.abc import Callable, Coroutine, Generator
from inspect import iscoroutinefunction
from types import FrameType
from typing import Any

import pytest


class _Interrupted(Exception):
    """An Exception, not a BaseException, so anyio's runner reports it and stays usable for the
    fixtures' teardown."""


def _cancel_on_sigint(test: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(test)
    async def run(**kwargs: Any) -> Any:
        # The test runs in a task of its own, so a cancellation that arrives after its last
        # await ends only that task, never anyio's runner task (which the teardown still needs).
        inner = asyncio.ensure_future(test(**kwargs))
        interrupts = 0

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts > 1:
                raise KeyboardInterrupt
            inner.cancel()
            inner.get_loop().call_soon_threadsafe(lambda: None)  # wake the loop if it is waiting

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            result = await inner
        except asyncio.CancelledError:
            if not interrupts:
                raise
            raise _Interrupted from None
        finally:
            signal.signal(signal.SIGINT, previous)
        if interrupts:
            raise _Interrupted
        return result

    return run


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    backend = pyfuncitem.funcargs.get("anyio_backend")
    if (
        backend != "asyncio"
        or not iscoroutinefunction(pyfuncitem.obj)
        or threading.current_thread() is not threading.main_thread()
    ):
        return (yield)
    original = pyfuncitem.obj
    pyfuncitem.obj = _cancel_on_sigint(original)
    try:
        return (yield)
    except _Interrupted:
        raise KeyboardInterrupt from None
    finally:
        pyfuncitem.obj = original
