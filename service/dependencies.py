"""Request dependencies: the database session and the API token check."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_bearer = HTTPBearer(auto_error=False)


class LifespanNotRunError(RuntimeError):
    """The app's lifespan never ran, so it has no sessionmaker or token."""


def _lifespan_state(request: Request, name: str) -> object:
    try:
        return getattr(request.state, name)
    except AttributeError:
        raise LifespanNotRunError(
            f"request.state.{name} is missing: the app's lifespan did not run. "
            "httpx.ASGITransport does not run it; wrap the app in asgi_lifespan.LifespanManager "
            "(testsupport's `client` fixture does)."
        ) from None


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the handler commits or rolls back itself."""
    maker = _lifespan_state(request, "sessionmaker")
    assert isinstance(maker, async_sessionmaker)
    async with maker() as session:
        yield session


async def verify_auth(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Bearer token check in constant time; returns the principal's name."""
    expected = _lifespan_state(request, "api_token")
    assert isinstance(expected, str)
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Missing or invalid bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "api"


DbSession = Annotated[AsyncSession, Depends(get_db)]
