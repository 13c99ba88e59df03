"""testsupport: a pytest plugin for testing an async FastAPI + SQLAlchemy app on one event loop,
on SQLite, PostgreSQL and MariaDB; the import package of the distribution pytest-fastapi-sqlalchemy
(``pip install pytest-fastapi-sqlalchemy``). Installed, it loads itself (a ``pytest11`` entry point)
and stays inert until ``testsupport_app`` is set; docs/adoption.md is the whole setup.

The names below are what a project may import. They load on first use: the entry point imports
this package in every pytest run, configured or not, and must cost nothing there.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testsupport.app import asgi_client, serve
    from testsupport.engine import make_test_engine
    from testsupport.factories import factory_session
    from testsupport.guard import AppSessionUsedError, LoopMismatchError
    from testsupport.migrations.runner import MigrationRunner
    from testsupport.migrations.source import MigrationsElsewhereError, MigrationsInLoopError
    from testsupport.net import DatabaseBlockedError, ForeignEngineError, TestEngineMisuseError, allow_other_engines
    from testsupport.queries import LazyLoadError, Queries
    from testsupport.sqlite import sqlite_savepoints

__all__ = [
    "AppSessionUsedError",
    "DatabaseBlockedError",
    "ForeignEngineError",
    "LazyLoadError",
    "LoopMismatchError",
    "MigrationRunner",
    "MigrationsElsewhereError",
    "MigrationsInLoopError",
    "Queries",
    "TestEngineMisuseError",
    "allow_other_engines",
    "asgi_client",
    "factory_session",
    "make_test_engine",
    "serve",
    "sqlite_savepoints",
]

_HOME = {
    "AppSessionUsedError": "testsupport.guard",
    "DatabaseBlockedError": "testsupport.net",
    "ForeignEngineError": "testsupport.net",
    "LazyLoadError": "testsupport.queries",
    "LoopMismatchError": "testsupport.guard",
    "MigrationRunner": "testsupport.migrations.runner",
    "MigrationsElsewhereError": "testsupport.migrations.source",
    "MigrationsInLoopError": "testsupport.migrations.source",
    "Queries": "testsupport.queries",
    "TestEngineMisuseError": "testsupport.net",
    "allow_other_engines": "testsupport.net",
    "asgi_client": "testsupport.app",
    "factory_session": "testsupport.factories",
    "make_test_engine": "testsupport.engine",
    "serve": "testsupport.app",
    "sqlite_savepoints": "testsupport.sqlite",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'testsupport' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
