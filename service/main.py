"""The app factory."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.api import router
from service.db import make_engine, make_sessionmaker, unavailable_sqlstate
from service.errors import method_not_allowed, validation_error
from service.limits import BodySizeLimit
from service.settings import Settings

logger = logging.getLogger("service")

# Errors that mean "the database cannot be reached", as opposed to a bug in a query.
_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, OSError)


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> FastAPI:
    """Build the app. Given an ``engine`` (the tests' one), the app uses it and leaves its disposal
    to the caller; otherwise its lifespan creates one from ``settings`` and disposes it."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        own_engine = engine is None
        app_engine = make_engine(settings.database_url) if engine is None else engine
        token = settings.api_token.get_secret_value() if settings.api_token else _announce_token()
        try:
            # Lifespan state: copied into every request's request.state.
            yield {
                "engine": app_engine,
                "sessionmaker": sessionmaker or make_sessionmaker(app_engine),
                "api_token": token,
            }
        finally:
            if own_engine:
                await app_engine.dispose()

    app = FastAPI(title="Users and notes", lifespan=lifespan)
    app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, method_not_allowed(router.routes))
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    return app


def _announce_token() -> str:
    token = secrets.token_urlsafe(24)
    print(f"API_TOKEN is not set; this run's token is: {token}", file=sys.stderr, flush=True)
    return token


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if (
        isinstance(exc, _UNAVAILABLE)
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        or unavailable_sqlstate(exc) is not None
    ):
        logger.warning("database unavailable during %s %s: %r", request.method, request.url.path, exc)
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": "The database is unavailable; try again later.", "error": type(exc).__name__},
            headers={"Retry-After": "5"},
        )
    logger.exception("database error during %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "Internal database error.", "error": type(exc).__name__},
    )
