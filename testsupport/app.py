"""The app under test and HTTP clients for it.

One app per database for the session: FastAPI compiles each route on its first request (its
dependants and validators, several ms per route), so a new app per test would pay that in every
test. ``dependency_overrides`` are global to an app object, so each test's overrides are applied
for that test only and the previous ones restored at teardown. The clients run the app's lifespan
through asgi-lifespan: httpx's ASGITransport does not (httpx PR #1554).
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
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.types import ASGIApp

from service.db import make_engine, make_sessionmaker
from service.dependencies import get_db, verify_auth
from service.main import create_app
from service.settings import Settings
from testsupport.guard import refuse_connections

AppFactory = Callable[[AsyncEngine | None], FastAPI]

# A database no test reaches (the app gets its engine and sessions from the fixtures below).
UNREACHABLE_DATABASE = "sqlite+aiosqlite:////nonexistent/testsupport-no-database.db"


@pytest.fixture(scope="session")
def api_token() -> str:
    """The bearer token the test app accepts."""
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
    """Build the app around an engine (None: no database at all). Its own sessionmaker refuses to
    connect: in a test, handlers get their session through `db_dependency`, and a request that
    reaches the app's own sessions fails with a message saying so, instead of writing outside the
    test's transaction. Override to adopt testsupport in another project."""
    refusing_sessions = make_sessionmaker(refusing_engine)
    return lambda engine: create_app(test_settings, engine=engine or refusing_engine, sessionmaker=refusing_sessions)


@pytest.fixture(scope="session")
def db_dependency() -> Callable[..., Any]:
    """The dependency that gives handlers their session; the tests replace it with db_session."""
    return get_db


@pytest.fixture(scope="session")
def auth_dependency() -> Callable[..., Any]:
    """The dependency that checks credentials; `app` replaces it with `test_principal`."""
    return verify_auth


@pytest.fixture(scope="session")
def test_principal() -> str:
    return "test"


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
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver", **client_options
        ) as client,
    ):
        yield client


def _session_override(db_session: AsyncSession) -> Callable[[], AsyncIterator[AsyncSession]]:
    async def use_test_session() -> AsyncIterator[AsyncSession]:
        yield db_session

    return use_test_session


@pytest.fixture(scope="session")
def session_app(app_factory: AppFactory, schema: AsyncEngine) -> FastAPI:
    """The app on the test engine (no second pool), built once per database."""
    return app_factory(schema)


@pytest.fixture
def app(
    session_app: FastAPI,
    db_session: AsyncSession,
    db_dependency: Callable[..., Any],
    auth_dependency: Callable[..., Any],
    test_principal: str,
) -> Iterator[FastAPI]:
    """`session_app` with its handlers on `db_session` and auth bypassed, for this test."""
    overrides = {db_dependency: _session_override(db_session), auth_dependency: lambda: test_principal}
    with overridden(session_app, overrides) as app:
        yield app


@pytest.fixture
def auth_app(session_app: FastAPI, db_session: AsyncSession, db_dependency: Callable[..., Any]) -> Iterator[FastAPI]:
    """Like `app`, with the real credential check."""
    with overridden(session_app, {db_dependency: _session_override(db_session)}) as app:
        yield app


@pytest.fixture(scope="session")
def bare_app(app_factory: AppFactory) -> FastAPI:
    """The app with no database at all, real auth: for tests that must pass on trio too."""
    return app_factory(None)


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


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def client(app: FastAPI, running_app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client for `app` (this test's overrides), in process."""
    async with _client(running_app) as client:
        yield client


@pytest.fixture
async def auth_client(auth_app: FastAPI, running_app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(running_app) as client:
        yield client


@pytest.fixture
async def bare_client(running_bare_app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(running_bare_app) as client:
        yield client
