"""The app under test and HTTP clients for it.

One app per database for the session: FastAPI compiles each route on its first request (its
dependants and validators, several ms per route), so a new app per test would pay that in every
test. The test's database reaches the handlers through the app's own sessionmaker, rebound to the
test's connection (`app_sessions`): no dependency override, unless the project configured
``testsupport_session_dependency`` as a last resort. While ``app.dependency_overrides`` is
non-empty FastAPI rebuilds every dependency of a route from its signature on every request
(fastapi/dependencies/utils.py, solve_dependencies; fastapi/fastapi issue #5562, PR #14441):
~0.3 ms per request here, more for a sync override, which runs in a worker thread. The clients
run the app's lifespan through asgi-lifespan: httpx's ASGITransport does not (httpx PR #1554).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from starlette.types import ASGIApp

from testsupport.config import DEFAULT_BASE_URL, Settings
from testsupport.guard import refuse_connections
from testsupport.net import NET, app_bind
from testsupport.session_source import Sessions

# A database no test reaches: the refusing engine's URL, in messages only.
UNREACHABLE_DATABASE = "sqlite+aiosqlite:////nonexistent/testsupport-no-database.db"


@pytest.fixture(scope="session")
def refusing_engine(testsupport_settings: Settings) -> Iterator[AsyncEngine]:
    """An engine that refuses to connect, with a message that names the fix: what the app's
    sessions are bound to outside a test. It opens nothing, so it works on trio too. A
    module-global sessionmaker of the project (testsupport_sessionmaker) is bound to it for the
    session and given back its own settings at the end."""
    engine = refuse_connections(create_async_engine(UNREACHABLE_DATABASE))
    module_global = testsupport_settings.sessions.obj if testsupport_settings.sessions is not None else None
    if module_global is None:
        yield engine
        return
    saved = dict(module_global.kw)
    module_global.configure(bind=engine, join_transaction_mode="create_savepoint")
    yield engine
    module_global.kw.clear()
    module_global.kw.update(saved)


def _sessions_for(settings: Settings, engine: AsyncEngine) -> Sessions:
    if settings.sessions is not None:
        return settings.sessions.make(engine)
    return async_sessionmaker(engine)  # SQLAlchemy's defaults: the app's factory takes what it is given


@pytest.fixture(scope="session")
def app_sessions(testsupport_settings: Settings, schema: AsyncEngine, refusing_engine: AsyncEngine) -> Sessions:
    """The sessionmaker the app's handlers use, with the project's own settings (its module-global
    one, or the one its function makes on the test engine). `app` binds it to the test's
    connection in savepoint mode, so the handlers' commits and rollbacks stay inside the test's
    transaction; between tests it refuses to connect, saying why."""
    sessions = _sessions_for(testsupport_settings, schema)
    sessions.configure(bind=refusing_engine, join_transaction_mode="create_savepoint")
    return sessions


@contextmanager
def overridden(app: Any, overrides: dict[Callable[..., Any], Callable[..., Any]]) -> Iterator[Any]:
    """Apply dependency overrides for the duration of the block, then restore the previous ones."""
    saved = dict(app.dependency_overrides)
    app.dependency_overrides.update(overrides)
    try:
        yield app
    finally:
        app.dependency_overrides.clear()
        app.dependency_overrides.update(saved)


def _session_override(sessions: Sessions) -> Callable[[], AsyncIterator[AsyncSession]]:
    async def test_session() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    return test_session


@pytest.fixture(scope="session")
def session_app(testsupport_settings: Settings, schema: AsyncEngine, app_sessions: Sessions) -> Iterator[Any]:
    """The app (testsupport_app) on the test engine and `app_sessions`, built once per database.
    With testsupport_session_dependency, that dependency is overridden to yield `app_sessions`'
    sessions (for the session: FastAPI then rebuilds every dependant per request, ~0.3 ms)."""
    app = testsupport_settings.app.build(schema, app_sessions)
    dependency = testsupport_settings.session_dependency
    if dependency is None:
        yield app
        return
    with overridden(app, {dependency: _session_override(app_sessions)}):
        yield app


@pytest.fixture
def app(
    session_app: Any, app_sessions: Sessions, db_connection: AsyncConnection, refusing_engine: AsyncEngine
) -> Iterator[Any]:
    """`session_app` with its handlers' sessions on this test's connection. Overrides a test sets
    on it are removed at teardown."""
    app_sessions.configure(bind=app_bind(db_connection))  # testsupport.net: the engine in real-commit mode
    try:
        with overridden(session_app, {}):
            yield session_app
    finally:
        app_sessions.configure(bind=refusing_engine)


@pytest.fixture(scope="session")
def bare_app(testsupport_settings: Settings, refusing_engine: AsyncEngine) -> Any:
    """The app with no database at all (every connection refused): for tests that run on trio too."""
    return testsupport_settings.app.build(refusing_engine, _sessions_for(testsupport_settings, refusing_engine))


@asynccontextmanager
async def serve(app: ASGIApp, **client_options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to ``app`` in process, with the app's lifespan running."""
    async with LifespanManager(app) as manager, asgi_client(manager.app, **client_options) as client:
        yield client


@pytest.fixture(scope="session")
async def running_app(session_app: Any, app_sessions: Sessions, schema: AsyncEngine) -> AsyncIterator[ASGIApp]:
    """`session_app` with its lifespan running, once per database, started before the first test
    of that database (`db_connection` requests it; per test it would cost ~0.5 ms). The
    lifespan's own database work (a start-up check, a seed, a shutdown write) runs as a
    real-commit test's does: the app's sessions on the test engine, its commits real, into the
    session's own database, so every test sees a seed and each test's rollback returns to it."""
    async with started(session_app, lambda: lifespan_database(app_sessions, schema)) as running:
        yield running


@pytest.fixture(scope="session")
async def running_bare_app(bare_app: Any, anyio_backend: str) -> AsyncIterator[ASGIApp]:
    """`bare_app` with its lifespan running, once per backend. A lifespan that uses the database
    fails here, saying so: it needs `client`."""
    async with started(bare_app, lambda: NET.app_lifespan(None)) as running:
        yield running


@asynccontextmanager
async def started(app: Any, database: Callable[[], AbstractContextManager[None]]) -> AsyncIterator[ASGIApp]:
    """``app`` with its lifespan running (asgi-lifespan), ``database()`` in force while the
    lifespan starts and while it stops, not between: the tests bind the app's sessions then."""
    manager = LifespanManager(app)
    with database():
        await manager.__aenter__()
    try:
        yield manager.app
    finally:
        with database():
            await manager.__aexit__(None, None, None)


@contextmanager
def lifespan_database(sessions: Sessions, engine: AsyncEngine) -> Iterator[None]:
    """The app's sessions on the test engine while its lifespan starts or stops, then back on
    what they were bound to (`refusing_engine`, or the test's connection)."""
    saved = sessions.kw.get("bind")
    sessions.configure(bind=engine)
    try:
        with NET.app_lifespan(engine.sync_engine):
            yield
    finally:
        sessions.configure(bind=saved)


def asgi_client(app: ASGIApp, base_url: str = DEFAULT_BASE_URL, **options: Any) -> httpx.AsyncClient:
    """An httpx client for an ASGI app, in process. It holds no connection or thread, so it needs
    no closing, and the fixtures below can be plain functions: an async fixture costs two more
    round trips through anyio's runner per test."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, **options)


@pytest.fixture(scope="session")
def client_headers() -> dict[str, str]:
    """Headers `client` sends with every request (none): override it to authenticate."""
    return {}


@pytest.fixture(scope="session")
def client_base_url(testsupport_settings: Settings) -> str:
    """Where `client` and `bare_client` send requests: testsupport_base_url, by default
    http://testserver (an app behind TrustedHostMiddleware needs a host it accepts)."""
    return testsupport_settings.base_url


@pytest.fixture
def client(app: Any, running_app: ASGIApp, client_headers: dict[str, str], client_base_url: str) -> httpx.AsyncClient:
    """An httpx client for `app`, sending `client_headers` (pass ``headers=`` per request for others)."""
    return asgi_client(running_app, client_base_url, headers=client_headers)


@pytest.fixture
def bare_client(running_bare_app: ASGIApp, client_base_url: str) -> httpx.AsyncClient:
    """An httpx client for `bare_app`, with no headers."""
    return asgi_client(running_bare_app, client_base_url)
