"""Configuration from the environment (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///service.db"


class Settings(BaseSettings):
    """``DATABASE_URL``, ``API_TOKEN`` and ``MAX_BODY_BYTES``, read from the environment."""

    model_config = SettingsConfigDict(extra="ignore")

    # Embedded default: a SQLite file in the working directory. Any SQLAlchemy URL works;
    # plain postgresql:// and sqlite:// are given their async drivers by service.db.
    database_url: str = DEFAULT_DATABASE_URL
    # No default on purpose: when unset, the app makes a random one at start-up and prints it.
    api_token: SecretStr | None = None
    # Request bodies over this many bytes get a 413 before they are read (the largest valid body,
    # a note, is about 11 kB).
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
