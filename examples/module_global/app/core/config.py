import os


class Settings:
    DATABASE_URL = os.environ.get("APP_DATABASE_URL", "sqlite+aiosqlite:///production.db")


settings = Settings()
