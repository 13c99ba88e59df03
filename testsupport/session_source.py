"""Where the app's handlers get their sessions in the tests: ``testsupport_sessionmaker`` (a
module-global async_sessionmaker, or a function of an engine returning one), or, with only
``testsupport_session_dependency``, the settings of the sessionmaker that dependency uses."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import sessionmaker as sync_sessionmaker

from testsupport.resolve import resolve, usage_error

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class SessionSource:
    """How the app's handlers get their sessions in the tests."""

    path: str
    obj: Sessions | None = None  # a module-global sessionmaker, rebound per test
    factory: Callable[[AsyncEngine], Sessions] | None = None  # called once per test engine
    like: Sessions | None = None  # the one a session dependency uses: copied, its settings kept

    def make(self, engine: AsyncEngine) -> Sessions:
        if self.obj is not None:
            return self.obj
        if self.like is not None:
            kw = {name: value for name, value in self.like.kw.items() if name not in ("bind", "binds")}
            return async_sessionmaker(engine, class_=self.like.class_, **kw)
        assert self.factory is not None
        try:
            made = self.factory(engine)
        except Exception as exc:  # noqa: BLE001 - the user's function failing is a configuration error
            pytest.fail(
                f"testsupport_sessionmaker = {self.path!r} raised {type(exc).__name__}: {exc} when called with the "
                "test engine. Fix: name the async_sessionmaker the handlers use, or a function that takes an "
                "AsyncEngine and returns async_sessionmaker(engine, ...).",
                pytrace=False,
            )
        if not isinstance(made, async_sessionmaker):
            pytest.fail(
                f"testsupport_sessionmaker = {self.path!r} returned {made!r}, not an async_sessionmaker. "
                "Fix: return async_sessionmaker(engine, ...) from it.",
                pytrace=False,
            )
        return made


def session_source(value: str) -> SessionSource:
    key = "testsupport_sessionmaker"
    obj = resolve(key, value)
    if isinstance(obj, async_sessionmaker):
        return SessionSource(value, obj=obj)
    if isinstance(obj, sync_sessionmaker):
        raise usage_error(key, value, "a synchronous sessionmaker", "name the app's async_sessionmaker")
    if callable(obj):
        try:
            inspect.signature(obj).bind(object())
        except TypeError:
            raise usage_error(
                key, value, "a callable that does not take one argument (the engine)", "name a function of the engine"
            ) from None
        except ValueError:
            pass  # a builtin without a signature: trust it
        return SessionSource(value, factory=obj)
    raise usage_error(
        key,
        value,
        f"a {type(obj).__name__}, neither an async_sessionmaker nor a function of an engine returning one",
        "name the async_sessionmaker the app's handlers use, or the function that makes it",
    )


def sessionmakers_used_by(function: object, depth: int = 2) -> dict[int, tuple[str, Sessions]]:
    """The async_sessionmakers a session dependency refers to (``SessionLocal``, ``db.SessionLocal``,
    a closure's), and those of the functions it calls, ``depth`` calls down: {id: (name, object)}."""
    function = inspect.unwrap(function) if callable(function) else function
    if not inspect.isfunction(function):
        return {}
    refs = inspect.getclosurevars(function)
    named = [*refs.nonlocals.items(), *refs.globals.items()]
    for name, value in refs.globals.items():  # db.SessionLocal: the attribute names are "unbound"
        if inspect.ismodule(value):
            named += [(f"{name}.{attr}", getattr(value, attr)) for attr in refs.unbound if hasattr(value, attr)]
    found: dict[int, tuple[str, Sessions]] = {}
    for name, value in named:
        if isinstance(value, async_sessionmaker):
            found[id(value)] = (name, value)
        elif depth and inspect.isfunction(value):
            found.update(sessionmakers_used_by(value, depth - 1))
    return found


def dependency_sessions(path: str, dependency: Callable[..., Any], notes: list[str]) -> SessionSource | None:
    """The fallback's test sessions take the settings (expire_on_commit, class_, ...) of the
    sessionmaker the dependency uses, when exactly one can be found; the summary says which."""
    found = list(sessionmakers_used_by(dependency).values())
    if len(found) == 1:
        name, like = found[0]
        settings = ", ".join(f"{k}={v!r}" for k, v in like.kw.items() if k not in ("bind", "binds"))
        notes.append(
            f"testsupport_session_dependency: the test sessions take the settings of {name}, which "
            f"{path} uses ({settings}); set testsupport_sessionmaker to name another"
        )
        return SessionSource(path, like=like)
    what = f"several ({', '.join(sorted(name for name, _ in found))})" if found else "none"
    notes.append(
        f"testsupport_session_dependency = {path!r}: testsupport looked for the async_sessionmaker it uses and "
        f"found {what}, so the test sessions have SQLAlchemy's defaults (expire_on_commit=True: an attribute read "
        "after a commit is a lazy load, MissingGreenlet). Fix: set testsupport_sessionmaker to the app's "
        "async_sessionmaker (or the function that makes it): the test sessions then take its settings"
    )
    return None
