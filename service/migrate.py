"""Run the Alembic migrations from code (``python -m service migrate``, the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(*, url: str | None = None, connection: Any = None) -> Config:
    """Alembic's config for this project. ``url`` overrides DATABASE_URL; a sync ``connection``
    makes env.py run on it (inside the caller's transaction and event loop) instead of its own engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # attributes, not main options: a URL's %-escapes would be read as config interpolation.
    if url is not None:
        config.attributes["url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(revision: str = "head", **kwargs: Any) -> None:
    command.upgrade(alembic_config(**kwargs), revision)


def downgrade(revision: str, **kwargs: Any) -> None:
    command.downgrade(alembic_config(**kwargs), revision)


def compare_server_default(
    _context: Any,
    _inspected_column: Any,
    _metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Alembic hook: False when the two defaults are the same SQL spelled differently (SQLite
    reflects ``''`` as ``('')`` and CURRENT_TIMESTAMP in parentheses, MariaDB ``now()`` as
    ``current_timestamp()``); None lets Alembic decide.
    https://alembic.sqlalchemy.org/en/latest/autogenerate.html#comparing-and-rendering-types
    """
    if inspected_default is None or metadata_default is None:
        return None
    arg = getattr(metadata_default, "arg", None)
    expected = "'" + arg.replace("'", "''") + "'" if isinstance(arg, str) else rendered_metadata_default
    return False if expected is not None and _unwrap(inspected_default) == _unwrap(expected) else None


# The same clock, as each database reflects it (MariaDB stores func.now() as current_timestamp()).
_NOW = frozenset({"now()", "current_timestamp", "current_timestamp()"})


def _unwrap(sql: str) -> str:
    sql = sql.strip()
    while sql.startswith("(") and sql.endswith(")"):
        sql = sql[1:-1].strip()
    return "now()" if sql.lower() in _NOW else sql
