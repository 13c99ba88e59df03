"""The project's configuration: the ``testsupport_*`` ini keys, read and checked once at start-up.

Every mistake is a ``pytest.UsageError`` that names the key and the fix, before any test runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from testsupport.app_target import AppTarget, app_target
from testsupport.constants import KEYS
from testsupport.pg.template import Migrate
from testsupport.resolve import resolve, usage_error
from testsupport.session_source import SessionSource, dependency_sessions, session_source

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
