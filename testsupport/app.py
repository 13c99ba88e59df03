"""The app under test and HTTP clients for it.

One app per database for the session: FastAPI compiles each route on its first request (its
dependants and validators, several ms per route), so a new app per test would pay that in every
test. The test's database reaches the handlers through the app's own sessionmaker, rebound to the
test's connection (`app_sessions`), and the clients send the test token: no dependency override.
While ``app.dependency_overrides`` is non-empty FastAPI rebuilds every dependency of a route from
its signature on every request (fastapi/dependencies/utils.py, solve_dependencies; fastapi/fastapi
issue #5562, PR #14441): ~0.3 ms per request here, more for a sync override, which runs in a
worker thread. The clients run the app's lifespan through asgi-lifespan: httpx's ASGITransport
does not (httpx PR #1554).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from service.db import make_engine, make_sessionmaker
from service.main import create_app
from service.settings import Settings
from testsupport.guard import refuse_connections
from testsupport.net import app_bind

Sessions = async_sessionmaker[AsyncSession]
AppFactory = Callable[[AsyncEngine | None, Sessions | None], FastAPI]

# A database no test reaches (the app gets its engine and sessions from the fixtures below).
UNREACHABLE_DATABASE = "sqlite+aiosqlite:////nonexistent/testsupport-no-database.db"


@pytest.fixture(scope="session")
def api_token() -> str:
    """The bearer token the test app accepts, and the one `client` sends."""
    return "test-token"


@pytest.fixture(scope="session")
def test_settings(api_token: str) -> Settings:
    return Settings(database_url=UNREACHABLE_DATABASE, api_token=SecretStr(api_token))


@pytest.fixture(scope="session")
def refusing_engine(test_settings: Settings) -> AsyncEngine:
    """An engine that refuses to connect, with a message that names the fix. It opens nothing,
    so it works on trio too."""
    return refuse_connections(make_engine(test_settings.database_url))


@pytest.fixture(scope="session")
def app_factory(test_settings: Settings, refusing_engine: AsyncEngine) -> AppFactory:
    """Build the app around an engine and a sessionmaker (None: none, every connection refused).
    Override to adopt testsupport in another project: the app must take its sessions from the
    sessionmaker it is given."""

    def build(engine: AsyncEngine | None, sessions: Sessions | None) -> FastAPI:
        return create_app(
            test_settings,
            engine=engine or refusing_engine,
            sessionmaker=sessions or make_sessionmaker(refusing_engine),
        )

    return build


@pytest.fixture(scope="session")
def app_sessions(refusing_engine: AsyncEngine) -> Sessions:
    """The app's sessionmaker in the tests: `app` binds it to the test's connection, in savepoint
    mode, so the handlers' commits and rollbacks stay inside the test's transaction. Between tests
    it is bound to `refusing_engine`: a request that bypasses `app` fails, saying so, instead of
    writing outside any test's transaction."""
    sessions = make_sessionmaker(refusing_engine)  # the app's own settings (expire_on_commit)
    sessions.configure(join_transaction_mode="create_savepoint")
    return sessions


@contextmanager
def overridden(app: FastAPI, overrides: dict[Callable[..., Any], Callable[..., Any]]) -> Iterator[FastAPI]:
    """Apply dependency overrides for the duration of the block, then restore the previous ones."""
    saved = dict(app.dependency_overrides)
    app.dependency_overrides.update(overrides)
    try:
        yield app
    finally:
        app.dependency_overrides.clear()
        app.dependency_overrides.update(saved)


@asynccontextmanager
async def serve(app: FastAPI, **client_options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to ``app`` in process, with the app's lifespan running."""
    async with LifespanManager(app) as manager, asgi_client(manager.app, **client_options) as client:
        yield client


@pytest.fixture(scope="session")
def session_app(app_factory: AppFactory, schema: AsyncEngine, app_sessions: Sessions) -> FastAPI:
    """The app on the test engine (no second pool) and `app_sessions`, built once per database."""
    return app_factory(schema, app_sessions)


@pytest.fixture
def app(
    session_app: FastAPI, app_sessions: Sessions, db_connection: AsyncConnection, refusing_engine: AsyncEngine
) -> Iterator[FastAPI]:
    """`session_app` with its handlers' sessions on this test's connection. Overrides a test sets
    on it are removed at teardown."""
    app_sessions.configure(bind=app_bind(db_connection))  # testsupport.net: the engine in real-commit mode
    try:
        with overridden(session_app, {}):
            yield session_app
    finally:
        app_sessions.configure(bind=refusing_engine)


@pytest.fixture(scope="session")
def bare_app(app_factory: AppFactory) -> FastAPI:
    """The app with no database at all: for tests that must pass on trio too."""
    return app_factory(None, None)


@pytest.fixture(scope="session")
async def running_app(session_app: FastAPI) -> AsyncIterator[ASGIApp]:
    """`session_app` with its lifespan running, once per database: the lifespan state (engine,
    sessionmaker, token) is the same for every test, and starting it per test cost ~0.5 ms."""
    async with LifespanManager(session_app) as manager:
        yield manager.app


@pytest.fixture(scope="session")
async def running_bare_app(bare_app: FastAPI, anyio_backend: str) -> AsyncIterator[ASGIApp]:
    async with LifespanManager(bare_app) as manager:
        yield manager.app


def asgi_client(app: ASGIApp, **options: Any) -> httpx.AsyncClient:
    """An httpx client for an ASGI app, in process. It holds no connection or thread, so it needs
    no closing, and the fixtures below can be plain functions: an async fixture costs two more
    round trips through anyio's runner per test."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", **options)


@pytest.fixture
def client(app: FastAPI, running_app: ASGIApp, api_token: str) -> httpx.AsyncClient:
    """An httpx client for `app`, sending the test token (pass ``headers=`` to send another)."""
    return asgi_client(running_app, headers={"Authorization": f"Bearer {api_token}"})


@pytest.fixture
def bare_client(running_bare_app: ASGIApp) -> httpx.AsyncClient:
    """An httpx client for `bare_app`, with no credentials."""
    return asgi_client(running_bare_app)
