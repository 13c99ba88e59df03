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
