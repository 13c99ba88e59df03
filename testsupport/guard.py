"""Loop-affinity guard: an engine used from a loop other than the one its pooled connection was
opened on fails at checkout with a message that names the cause, instead of the driver's
"attached to a different loop" or "another operation is in progress" a few calls later."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from testsupport.net import NET

LOOP_KEY = "testsupport_loop"


class LoopMismatchError(RuntimeError):
    """A pooled connection was used from another event loop than the one that opened it."""


def install_loop_guard(engine: AsyncEngine) -> None:
    """Record each new connection's loop; refuse a checkout from any other loop."""

    @event.listens_for(engine.sync_engine, "connect")
    def _record(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info[LOOP_KEY] = weakref.ref(asyncio.get_running_loop())

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(_dbapi: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        opened_on = connection_loop(record)
        running = asyncio.get_running_loop()
        if opened_on is not running:
            raise LoopMismatchError(loop_mismatch_message(engine, opened_on, running))


def connection_loop(record: ConnectionPoolEntry) -> asyncio.AbstractEventLoop | None:
    ref = record.info.get(LOOP_KEY)
    return ref() if ref is not None else None


def loop_mismatch_message(engine: AsyncEngine, opened_on: object, running: object) -> str:
    url = engine.url.render_as_string(hide_password=True)
    state = "closed" if opened_on is None or getattr(opened_on, "is_closed", lambda: True)() else "open"
    return (
        f"Engine for {url} was used from event loop {id(running):#x}, but its pooled connection was "
        f"opened on event loop {id(opened_on):#x} (now {state}). A connection belongs to the loop that "
        "opened it. Fix: run every test and fixture that uses this engine on one loop: make "
        "`anyio_backend` session-scoped AND keep a session-scoped async fixture alive "
        "(testsupport's `anyio_session_runner`), or create and dispose the engine inside each test."
    )


class AppSessionUsedError(RuntimeError):
    """A request reached the database outside a test's transaction."""


APP_SESSION_MESSAGE = (
    "A request opened a database session while no test had bound the app's sessions to its "
    "connection. Its writes would escape the test's transaction and leak into later tests. Fix: "
    "send requests through testsupport's `client` fixture (or request `app`), which binds the "
    "app's sessionmaker (`app_sessions`) to the test's connection for the test."
)


def refuse_connections(engine: AsyncEngine, message: str = APP_SESSION_MESSAGE) -> AsyncEngine:
    """Make every connection attempt on ``engine`` fail at once with ``message``."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _refuse(*_: Any) -> None:
        raise AppSessionUsedError(message)

    NET.mark_refusing(engine)  # testsupport.net: in a test without the database, the net's message
    return engine
