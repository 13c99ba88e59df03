"""The event loop: one anyio test runner per backend for the whole session.

anyio's pytest plugin keeps a runner (event loop) alive only while something holds a lease on it:
each async fixture until its teardown, each test while it runs. When the count drops to zero the
loop is closed, so a session-scoped ``anyio_backend`` alone still gives each test a new loop
(anyio issue #686; ../shared/FINDINGS.md section 1). ``anyio_session_runner`` is the lease that
keeps it open: a session-scoped async fixture that depends on nothing but the backend, so
switching the database parameter cannot tear it down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio.lowlevel
import pytest

from testsupport.constants import BACKENDS

# How often each backend's runner was started in this process: once, unless the tests of the two
# backends were interleaved (each switch closes one loop and sets the session's engines up again).
STARTS_KEY = pytest.StashKey[Counter[str]]()


@pytest.fixture(scope="session", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The backend, once per session each. Overrides anyio's own, which is module-scoped."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
async def anyio_session_runner(anyio_backend: str, request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """Hold a lease on the runner for the session; yields the loop's identity."""
    request.config.stash.setdefault(STARTS_KEY, Counter())[anyio_backend] += 1
    # A yield, not a return: the lease is held only while this generator is suspended.
    yield current_loop()
    if anyio_backend == "asyncio":
        await _no_task_left(request.config)


# How long the tasks left on the loop get to finish once cancelled; past it they are named, not awaited.
LEFTOVER_GRACE_SECONDS = 1.0


class TasksLeftRunningError(Exception):
    """Tasks were still running on the session's loop once every fixture (the app's lifespan
    included) had ended."""


async def _no_task_left(config: pytest.Config) -> None:
    """Cancel what the session left running on its loop, and name it. Left alone, the runner's close
    cancels it and waits for it without a word, for ever if it does not end (an aiosqlite close
    whose worker thread no longer answers hung there)."""
    __tracebackhide__ = True
    left = [task for task in asyncio.all_tasks() if not _anyio_runner_task(task)]
    if not left:
        return
    for task in left:
        task.cancel()
    _done, pending = await asyncio.wait(left, timeout=LEFTOVER_GRACE_SECONDS)
    names = "; ".join(_describe(task, task in pending) for task in left)
    message = (
        f"testsupport: {len(left)} task(s) still running on the session's event loop after every fixture "
        f"(the app's lifespan included) ended: {names}. Fix: end them in the code that started them, e.g. "
        "start them in a task group around the lifespan's `yield` and cancel it after the yield."
    )
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        config.get_terminal_writer().line(message, red=True)
    for task in pending:
        # The runner's close (asyncio.Runner.close -> _cancel_all_tasks) waits for every task in
        # asyncio.all_tasks(): a task that ignores its cancellation would hang the session there.
        # Taken off that list, it is left to be destroyed with the loop ("Task was destroyed but it
        # is pending!"), after the error above.
        asyncio.tasks._unregister_task(task)
    raise TasksLeftRunningError(message)


def _anyio_runner_task(task: asyncio.Task[Any]) -> bool:
    # anyio's asyncio TestRunner drives fixtures and tests from two tasks of its own:
    # _run_tests_and_fixtures (this one) and _call_in_runner_task (anyio/_backends/_asyncio.py).
    return getattr(task.get_coro(), "__qualname__", "").startswith("TestRunner.")


def _describe(task: asyncio.Task[Any], pending: bool) -> str:
    coro = task.get_coro()
    where = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    at = f" ({where.co_filename}:{where.co_firstlineno})" if where is not None else ""
    state = f"still pending {LEFTOVER_GRACE_SECONDS:g} s after its cancellation" if pending else "cancelled"
    return f"{task.get_name()} running {getattr(coro, '__qualname__', coro)!s}{at}, {state}"


def current_loop() -> object:
    """The running event loop (asyncio) or the run's token (trio): identical within one loop."""
    return anyio.lowlevel.current_token().native_token
