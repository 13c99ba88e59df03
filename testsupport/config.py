"""The project's configuration: the ``testsupport_*`` ini keys, read and checked once at start-up.

Every mistake is a ``pytest.UsageError`` that names the key and the fix, before any test runs.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import site
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import sessionmaker as sync_sessionmaker

from testsupport.migrations.source import AlembicSource, alembic_source
from testsupport.pg.template import Migrate
from testsupport.plugin import KEYS

Sessions = async_sessionmaker[AsyncSession]

APP_PARAMS = ("engine", "sessionmaker")


def usage_error(key: str, value: str, problem: str, fix: str) -> pytest.UsageError:
    return pytest.UsageError(f"{key} = {value!r}: {problem}. Fix: {fix}")


def _raised_at(exc: BaseException) -> str:
    """Where the project's code raised: the innermost frame outside Python and installed packages."""
    installed = (sys.prefix, sys.base_prefix, *site.getsitepackages())
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<") and not f.filename.startswith(installed)
    ]
    return f"at {frames[-1].filename}:{frames[-1].lineno}" if frames else "during the import"


def resolve(key: str, value: str) -> Any:
    """Import ``package.module:attr.sub``; every failure names the key, the part and the fix."""
    module_name, sep, attribute = value.partition(":")
    if not sep or not module_name or not attribute:
        raise usage_error(key, value, "not an import path", "write it as 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name is not None and module_name != exc.name and not module_name.startswith(exc.name + "."):
            # The module exists; something it imports does not.
            raise usage_error(
                key,
                value,
                f"importing {module_name!r} raised {type(exc).__name__}: {exc} ({_raised_at(exc)})",
                f"install {exc.name.split('.')[0]!r} in this environment, or fix that import",
            ) from None
        raise usage_error(
            key,
            value,
            f"cannot import module {module_name!r} ({type(exc).__name__}: {exc})",
            "check the spelling, and that the package is installed in this environment or on pytest's "
            "`pythonpath` ini key",
        ) from None
    except Exception as exc:  # noqa: BLE001 - any error importing the user's module is a configuration error
        raise usage_error(
            key,
            value,
            f"importing {module_name!r} raised {type(exc).__name__}: {exc} ({_raised_at(exc)})",
            "fix that module's import",
        ) from None
    done = module_name
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise usage_error(
                key, value, f"{done!r} has no attribute {part!r}", f"name an attribute that exists in {module_name}"
            ) from None
        done = f"{done}:{part}" if done == module_name else f"{done}.{part}"
    return obj


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


@dataclass(frozen=True)
class SessionSource:
    """How the app's handlers get their sessions in the tests."""

    path: str
    obj: Sessions | None = None  # a module-global sessionmaker, rebound per test
    factory: Callable[[AsyncEngine], Sessions] | None = None  # called once per test engine

    def make(self, engine: AsyncEngine) -> Sessions:
        if self.obj is not None:
            return self.obj
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


def metadata_of(value: str) -> MetaData:
    key = "testsupport_metadata"
    obj = resolve(key, value)
    if not isinstance(obj, MetaData):
        obj = getattr(obj, "metadata", obj)  # a declarative base stands for its metadata
    if not isinstance(obj, MetaData):
        raise usage_error(key, value, f"a {type(obj).__name__}, not a MetaData", "name e.g. 'pkg.models:Base.metadata'")
    return obj


def metadata_fingerprint(metadata: MetaData) -> str:
    """A hash of the schema create_all would build (PostgreSQL's DDL), for --reuse-db."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    digest = hashlib.sha256()
    for table in metadata.sorted_tables:
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    return "metadata-" + digest.hexdigest()


@dataclass(frozen=True)
class Settings:
    """What the fixtures need, resolved from the ini keys and options."""

    app: AppTarget
    sessions: SessionSource | None
    session_dependency: Callable[..., Any] | None
    alembic: AlembicSource | None
    metadata: MetaData | None
    notes: list[str] = field(default_factory=list)  # summary lines about the configuration

    @property
    def migrate(self) -> Migrate:
        """Bring the database on a sync connection to the schema: Alembic, or create_all."""
        if self.alembic is not None:
            return self.alembic.upgrade
        assert self.metadata is not None
        return self.metadata.create_all

    @property
    def fingerprint(self) -> str:
        if self.alembic is not None:
            return self.alembic.fingerprint()
        assert self.metadata is not None
        return metadata_fingerprint(self.metadata)


def load(config: pytest.Config) -> Settings:
    """The project's settings (testsupport_app is set; plugin.py checked that)."""
    values = {key: str(config.getini(key) or "").strip() for key in KEYS}
    rootdir = Path(config.rootpath)
    app = app_target(values["testsupport_app"])
    sessions = session_source(values["testsupport_sessionmaker"]) if values["testsupport_sessionmaker"] else None
    dependency_path = values["testsupport_session_dependency"]
    dependency = resolve("testsupport_session_dependency", dependency_path) if dependency_path else None
    if dependency is not None and not callable(dependency):
        raise usage_error(
            "testsupport_session_dependency", dependency_path, "not callable", "name the dependency function"
        )
    takes_sessions = app.params is not None and "sessionmaker" in app.params
    if not (takes_sessions or sessions or dependency):
        raise pytest.UsageError(
            f"testsupport_app = {app.path!r}: nothing tells testsupport how the app's handlers get their "
            "sessions, so they would write outside the tests' transactions. Fix one of: "
            "testsupport_sessionmaker = 'pkg.db:async_session' (the async_sessionmaker the handlers use, or a "
            "function of an engine that makes it); a factory with a `sessionmaker` parameter; or, last, "
            "testsupport_session_dependency = 'pkg.deps:get_db' (a dependency override: ~0.3 ms per request)."
        )
    no_migrations = bool(config.getoption("--no-migrations"))
    alembic_path = values["testsupport_alembic_config"]
    # --no-migrations: the migrations are neither run nor loaded.
    checked = bool(values["testsupport_migration_checks"])
    alembic = alembic_source(alembic_path, rootdir, checked) if alembic_path and not no_migrations else None
    metadata_path = values["testsupport_metadata"]
    metadata = metadata_of(metadata_path) if metadata_path else None
    notes = []
    if metadata is None and alembic is None:
        raise pytest.UsageError(
            ("--no-migrations builds the schema with create_all, but " if no_migrations else "")
            + "testsupport has no schema source. Fix: set testsupport_metadata = 'pkg.models:Base.metadata'"
            + ("" if no_migrations else " and/or testsupport_alembic_config = 'alembic.ini'")
            + " in [tool.pytest.ini_options]."
        )
    if sessions is None:
        notes.append(
            "the app's test sessions come from async_sessionmaker(engine) with SQLAlchemy's defaults; set "
            "testsupport_sessionmaker to the app's own sessionmaker (or its function) to test with its settings"
        )
    if no_migrations:
        notes.append(f"schema from create_all({metadata_path}) (--no-migrations): migrations not run")
    elif alembic is None:
        notes.append(f"schema from create_all({metadata_path}): no testsupport_alembic_config, migrations not tested")
    return Settings(app, sessions, dependency, alembic, metadata, notes)
