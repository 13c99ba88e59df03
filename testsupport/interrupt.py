"""Ctrl-C during an async test on asyncio ends the run the way pytest's convention says: exit
code 2 and one "KeyboardInterrupt" line, with every fixture torn down cleanly.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be;
inside the event loop that can be asyncpg's protocol code, SQLAlchemy's greenlet bridge or the
middle of a query, leaving the connection half-way through a message and anyio's runner task dead
(seen: tracebacks from the fixtures' teardown, death by SIGINT, once a segmentation fault). So
while an async test runs on asyncio, it runs in a task of its own and the first Ctrl-C cancels that
task (it unwinds at its current ``await``, as asyncio.Runner handles SIGINT:
https://docs.python.org/3/library/asyncio-runner.html#handling-keyboard-interruption); the
KeyboardInterrupt is raised after the task has ended, outside the loop. A second Ctrl-C raises at
once, for a test stuck in blocking code that never reaches an ``await``. During fixture set-up and
teardown Python's own handling applies.
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
            # Ours after one Ctrl-C. After two, the KeyboardInterrupt is already out and this is
            # anyio cancelling its runner task to clean up: let it.
            if interrupts != 1:
                raise
            raise _Interrupted from None
        finally:
            signal.signal(signal.SIGINT, previous)
        if interrupts:  # the cancellation came after the test's last await
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
