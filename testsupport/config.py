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
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import sessionmaker as sync_sessionmaker

from testsupport.pg.template import Migrate
from testsupport.plugin import KEYS

Sessions = async_sessionmaker[AsyncSession]

APP_PARAMS = ("engine", "sessionmaker")

USE_THE_CONNECTION = """\
Fix: make env.py use the connection it is handed (Alembic cookbook, "Sharing a Connection across one
or more programmatic migration commands"):

    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)  # context.configure(connection=connection, ...); run_migrations()
    else:
        asyncio.run(run_async_migrations())  # the sync template: its engine_from_config(...) block
"""
ENV_PY_FIX = (
    "Alembic's env.py called asyncio.run() inside the tests' event loop; testsupport runs the migrations\n"
    "on its own connection, in that loop.\n" + USE_THE_CONNECTION
)


class MigrationsInLoopError(RuntimeError):
    """Alembic's env.py tried to start an event loop of its own inside the tests' loop."""


class MigrationsElsewhereError(RuntimeError):
    """Alembic's env.py migrated a database of its own, not the connection it was handed."""


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


@dataclass(frozen=True)
class AlembicSource:
    """The project's Alembic configuration and what identifies its migrations."""

    path: Path
    script_dir: Path
    heads: tuple[str, ...]

    def config(self) -> Any:
        from alembic.config import Config

        if self.path.suffix == ".toml":
            return Config(toml_file=self.path)  # [tool.alembic], Alembic >= 1.16
        return Config(file_=self.path)

    def fingerprint(self) -> str:
        """A hash of every file of the migrations folder: --reuse-db keeps one template per value."""
        digest = hashlib.sha256()
        for path in sorted(self.script_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(self.script_dir).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def upgrade(self, connection: Connection) -> None:
        """``alembic upgrade head`` on this sync connection, in the caller's transaction and loop."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        config = self.config()
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except RuntimeError as exc:
            if "cannot be called from a running event loop" in str(exc):
                raise MigrationsInLoopError(ENV_PY_FIX) from exc
            raise
        # Alembic's sync template ignores the connection and migrates sqlalchemy.url instead.
        reached = MigrationContext.configure(connection).get_current_heads()
        if set(reached) != set(self.heads):
            url = config.get_main_option("sqlalchemy.url") or "the URL it builds its engine from"
            raise MigrationsElsewhereError(
                f"Alembic's env.py did not migrate the connection testsupport handed it: after `upgrade head` "
                f"the test database is at {', '.join(reached) or 'no revision'}, not {', '.join(self.heads)}. "
                f"It built an engine of its own, so the migrations ran on {url} instead.\n" + USE_THE_CONNECTION
            )


def alembic_source(value: str, rootdir: Path) -> AlembicSource:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    key = "testsupport_alembic_config"
    path = (rootdir / value).resolve()
    if not path.is_file():
        problem = f"{path} is a directory" if path.is_dir() else f"{path} does not exist"
        raise usage_error(key, value, problem, "give the path of alembic.ini or pyproject.toml, not of the migrations")
    source = AlembicSource(path, path, ())
    try:
        script = ScriptDirectory.from_config(source.config())
        heads = tuple(script.get_heads())
    except CommandError as exc:
        raise usage_error(key, value, f"Alembic cannot read it ({exc})", "fix what Alembic names") from None
    except Exception as exc:  # noqa: BLE001 - a revision file that fails to import is a configuration error
        raise usage_error(
            key, value, f"loading the migrations raised {type(exc).__name__}: {exc}", "fix that revision file"
        ) from None
    if not heads:
        raise usage_error(
            key,
            value,
            f"the migrations folder {script.dir} has no revisions",
            "create one (`alembic revision --autogenerate -m initial`), or remove testsupport_alembic_config "
            "and set testsupport_metadata to build the schema with create_all",
        )
    if len(heads) > 1:
        raise usage_error(
            key, value, f"the migrations have several heads {sorted(heads)}", "merge them (`alembic merge heads`)"
        )
    return AlembicSource(path, Path(script.dir), heads)


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
    databases: tuple[str, ...]  # the targets the project's tests run on (testsupport_databases)
    base_url: str  # where the clients send requests (testsupport_base_url)
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
    alembic = alembic_source(alembic_path, rootdir) if alembic_path and not no_migrations else None
    metadata_path = values["testsupport_metadata"]
    metadata = metadata_of(metadata_path) if metadata_path else None
    notes: list[str] = []
    if metadata is None and alembic is None:
        raise pytest.UsageError(
            ("--no-migrations builds the schema with create_all, but " if no_migrations else "")
            + "testsupport has no schema source. Fix: set testsupport_metadata = 'pkg.models:Base.metadata'"
            + ("" if no_migrations else " and/or testsupport_alembic_config = 'alembic.ini'")
            + " in [tool.pytest.ini_options]."
        )
    if sessions is None and dependency is not None:
        sessions = dependency_sessions(dependency_path, dependency, notes)
    elif sessions is None:
        notes.append(
            "the app's test sessions come from async_sessionmaker(engine) with SQLAlchemy's defaults; set "
            "testsupport_sessionmaker to the app's own sessionmaker (or its function) to test with its settings"
        )
    if no_migrations:
        notes.append(f"schema from create_all({metadata_path}) (--no-migrations): migrations not run")
    elif alembic is None:
        notes.append(f"schema from create_all({metadata_path}): no testsupport_alembic_config, migrations not tested")
    databases = database_targets("testsupport_databases", values["testsupport_databases"])
    base_url = client_base_url("testsupport_base_url", values["testsupport_base_url"] or DEFAULT_BASE_URL)
    return Settings(app, sessions, dependency, alembic, metadata, databases, base_url, notes)


# Starlette's TestClient's and httpx's examples' host; an app behind TrustedHostMiddleware needs its own.
DEFAULT_BASE_URL = "http://testserver"


def client_base_url(key: str, value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise usage_error(
            key, value, "not an http(s) base URL", "write it as 'https://api.example.com' (a host the app accepts)"
        )
    return value


def database_targets(key: str, value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A choice of database targets ('postgres', 'sqlite, postgres', or a marker's list); every
    target when empty. Unknown names stop the run naming the targets there are."""
    from testsupport.databases import DATABASES  # after the markers its parameters carry are registered

    targets = [str(param.id) for param in DATABASES]
    names = value.replace(",", " ").split() if isinstance(value, str) else [str(name) for name in value]
    unknown = [name for name in names if name not in targets]
    if unknown:
        raise usage_error(
            key, str(value), f"{', '.join(unknown)}: not a database target", f"choose among {', '.join(targets)}"
        )
    return tuple(name for name in targets if name in names) if names else tuple(targets)
