"""Configuration from the environment (pydantic-settings)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///service.db"


class Settings(BaseSettings):
    """``DATABASE_URL`` and ``API_TOKEN``; both read from the environment."""

    model_config = SettingsConfigDict(extra="ignore")

    # Embedded default: a SQLite file in the working directory. Any SQLAlchemy URL works;
    # plain postgresql:// and sqlite:// are given their async drivers by service.db.
    database_url: str = DEFAULT_DATABASE_URL
    # No default on purpose: when unset, the app makes a random one at start-up and prints it.
    api_token: SecretStr | None = None
