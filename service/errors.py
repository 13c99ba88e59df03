"""Error bodies: their OpenAPI models, and the handlers that make every error a JSON body."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute


class ErrorOut(BaseModel):
    """401, 404, 405, 409 and 413 bodies."""

    detail: str


class DatabaseErrorOut(BaseModel):
    """503 (and 500) bodies: what happened, and the driver's error class."""

    detail: str
    error: str


_DESCRIPTIONS = {
    400: "The body could not be read (for example, it is not UTF-8)",
    401: "Missing or invalid bearer token",
    404: "Not found",
    409: "Conflict: the email is taken",
    413: "Request body over the size limit",
    503: "The database is unavailable",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route that can answer these error codes."""
    return {
        code: {"model": DatabaseErrorOut if code == 503 else ErrorOut, "description": _DESCRIPTIONS[code]}
        for code in codes
    }


# A 422 echoes the input that failed; it must stay short (a 1 MiB name must not come back whole)
# and be valid JSON (json.loads accepts NaN and Infinity, and "\ud800" decodes to a lone surrogate:
# Starlette's JSONResponse cannot encode either, and the default handler turned them into a
# plain-text 500 that also made uvicorn drop the connection).
INPUT_CHARS = 64
TEXT_CHARS = 256
ITEMS = 10
DEPTH = 4
ERRORS = 20


def _safe(value: Any, chars: int, depth: int = 0) -> Any:
    """``value`` as JSON can carry it: strings cut to ``chars`` (with "..."), lone surrogates as
    \\ud800 escapes, NaN and infinities as strings, containers cut to ``ITEMS`` and ``DEPTH``."""
    if isinstance(value, str):
        short = value if len(value) <= chars else value[:chars] + "..."
        return short.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= DEPTH:
        return "..."
    if isinstance(value, dict):
        items = list(value.items())
        kept = {_safe(str(k), chars): _safe(v, chars, depth + 1) for k, v in items[:ITEMS]}
        if len(items) > ITEMS:
            kept["..."] = f"{len(items) - ITEMS} more"
        return kept
    if isinstance(value, list | tuple):
        kept_list = [_safe(v, chars, depth + 1) for v in value[:ITEMS]]
        return [*kept_list, f"... {len(value) - ITEMS} more"] if len(value) > ITEMS else kept_list
    return _safe(str(value), chars, depth)


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    for key, value in error.items():  # FastAPI's key order: type, loc, msg, input, ctx
        if key == "loc":
            safe[key] = [_safe(part, INPUT_CHARS) for part in value]
        elif key == "input":
            safe[key] = _safe(value, INPUT_CHARS)
        else:
            safe[key] = _safe(jsonable_encoder(value), TEXT_CHARS)
    return safe


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, ``{"detail": [errors]}``, with each echoed input cut to a short prefix
    and made JSON-safe, and at most ``ERRORS`` errors (``"more_errors": n`` counts the rest: a body
    of many unknown fields has one error each)."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    content: dict[str, Any] = {"detail": [_safe_error(error) for error in errors[:ERRORS]]}
    if len(errors) > ERRORS:
        content["more_errors"] = len(errors) - ERRORS
    # The number: Starlette renamed the constant in 0.48 (HTTP_422_UNPROCESSABLE_ENTITY is deprecated),
    # and FastAPI 0.115, the declared floor, pins an older Starlette.
    return JSONResponse(status_code=422, content=content)


def method_not_allowed(routes: Iterable[BaseRoute]) -> Any:
    """A 405 handler whose Allow header lists every method the path takes. FastAPI keeps one route
    per path and method set, and its router answers a method mismatch from the first route whose
    path matches (so GET /users/{id} alone gave ``allow: GET``)."""
    api_routes = [route for route in routes if isinstance(route, APIRoute)]

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        # The path as the routes see it (ASGI's path includes root_path).
        path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
        methods = {method for route in api_routes if route.path_regex.match(path) for method in route.methods or ()}
        if methods:
            order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
            allow = ", ".join(sorted(methods, key=lambda m: (order.index(m) if m in order else len(order), m)))
            exc = HTTPException(exc.status_code, exc.detail, headers={**(exc.headers or {}), "Allow": allow})
        return await http_exception_handler(request, exc)

    return handler
