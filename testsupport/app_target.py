"""``testsupport_app``: the app object, or the factory and the keyword arguments it declares
among ``engine`` and ``sessionmaker``."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from testsupport.resolve import resolve, usage_error
from testsupport.session_source import Sessions

APP_PARAMS = ("engine", "sessionmaker")


def _is_factory(obj: object) -> bool:
    return inspect.isfunction(obj) or inspect.ismethod(obj) or isinstance(obj, functools.partial)


@dataclass(frozen=True)
class AppTarget:
    """The app object, or a factory and the keyword arguments it declares."""

    path: str
    obj: Any
    params: tuple[str, ...] | None  # None: an app object, not a factory

    def build(self, engine: AsyncEngine, sessionmaker: Sessions) -> Any:
        if self.params is None:
            return self.obj
        given = {"engine": engine, "sessionmaker": sessionmaker}
        app = self.obj(**{name: given[name] for name in self.params})
        if not callable(app):
            pytest.fail(
                f"testsupport_app = {self.path!r} returned {app!r}, not an ASGI app. Fix: return the app "
                "(e.g. the FastAPI instance) from the factory.",
                pytrace=False,
            )
        return app


def app_target(value: str) -> AppTarget:
    key = "testsupport_app"
    obj = resolve(key, value)
    if not _is_factory(obj):
        if not callable(obj):
            raise usage_error(
                key, value, f"{type(obj).__name__} is neither an ASGI app nor a factory", "name the app or its factory"
            )
        return AppTarget(value, obj, None)
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError) as exc:
        raise usage_error(key, value, f"its signature cannot be read ({exc})", "name a plain function") from None
    params = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in APP_PARAMS:
            if param.kind is param.POSITIONAL_ONLY:
                raise usage_error(
                    key, value, f"its parameter {param.name!r} is positional-only", "let it be passed by keyword"
                )
            params.append(param.name)
        elif param.default is param.empty:
            raise usage_error(
                key,
                value,
                f"the factory requires {param.name!r}, but testsupport passes only `engine=` and "
                "`sessionmaker=` (each only if declared)",
                f"give {param.name!r} a default, or point testsupport_app at a function that takes "
                "engine and/or sessionmaker and builds the app",
            )
    return AppTarget(value, obj, tuple(params))
