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

from testsupport.app_target import AppTarget, app_target
from testsupport.constants import KEYS
from testsupport.migrations.source import AlembicSource, alembic_source
from testsupport.pg.template import Migrate
from testsupport.resolve import resolve, usage_error
from testsupport.session_source import SessionSource, dependency_sessions, session_source


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


def refuse_unreachable_sessionmaker(app: AppTarget, sessions_path: str) -> None:
    """A sessionmaker made by a function reaches the app only as the factory's ``sessionmaker=``:
    without that parameter the app makes its own, and its handlers write outside the test's
    transaction (found only later, test by test, by the net)."""
    shape = "is an app object" if app.params is None else "is a factory that declares no `sessionmaker` parameter"
    raise pytest.UsageError(
        f"testsupport_sessionmaker = {sessions_path!r} is a function: testsupport makes the tests' sessionmaker "
        f"with it and hands it to the app, but testsupport_app = {app.path!r} {shape}, so the app would make its "
        "own, outside the tests' transactions. Fix one of: add a `sessionmaker=None` parameter to the factory and "
        "use it when given (`sessionmaker or make_sessionmaker(engine)`); point testsupport_sessionmaker at the "
        "module-global async_sessionmaker the handlers use; or drop testsupport_sessionmaker and set "
        "testsupport_session_dependency = 'pkg.deps:get_db'."
    )


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
    # With a session dependency too, the function only gives the overridden dependency its settings.
    if sessions is not None and sessions.factory is not None and not (takes_sessions or dependency):
        refuse_unreachable_sessionmaker(app, sessions.path)
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
