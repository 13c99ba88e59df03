"""The shapes two public FastAPI templates had when they adopted testsupport (issue 19), as
variants of the apps in apps.py: a lifespan that uses the module-global sessionmaker, a
PostgreSQL-only schema, TrustedHostMiddleware, a suite pytest-asyncio left behind."""

from __future__ import annotations

from tests.adoption.apps import MODULE_GLOBAL_APP, MODULE_GLOBAL_TESTS

# The module-global app whose lifespan uses the module-global sessionmaker: a start-up check and a
# seed, as in the larger template of issue 19. Its seed is not idempotent: a second run of the
# lifespan on one database, or a seed left in a database that outlives the session, fails it.
LIFESPAN_MAIN = (
    MODULE_GLOBAL_APP["app/main.py"]
    .replace(
        "app = FastAPI()",
        """
@asynccontextmanager
async def lifespan(app):
    async with SessionLocal() as session:
        await session.execute(select(1))  # the start-up check
        session.add(User(email="admin@example.com"))  # the seed
        await session.commit()
    yield
    async with SessionLocal() as session:  # a shutdown write: committed into the session's database
        session.add(User(email="shutdown@example.com"))
        await session.commit()


app = FastAPI(lifespan=lifespan)""",
    )
    .replace("from fastapi import", "from contextlib import asynccontextmanager\n\nfrom fastapi import")
    .replace("from app.deps import get_db", "from app.core.db import SessionLocal\nfrom app.deps import get_db")
)
LIFESPAN_APP = {
    **MODULE_GLOBAL_APP,
    "app/main.py": LIFESPAN_MAIN,
    MODULE_GLOBAL_TESTS: """
import pytest
from sqlalchemy import select

from app.models import User


async def test_1_the_seed_is_there_before_any_request(db_session):
    assert await db_session.scalar(select(User.email)) == "admin@example.com"


async def test_2_the_handlers_see_the_seed(client):
    assert (await client.post("/users", json={"email": "b@x"})).status_code == 201
    assert (await client.get("/users")).json() == ["admin@example.com", "b@x"]


async def test_3_the_seed_and_nothing_else(client):
    assert (await client.get("/users")).json() == ["admin@example.com"]


def test_4_a_sync_test_sees_it_too(db_connection):
    pass  # set-up ran the lifespan (or found it run) in the test's set-up: no error


@pytest.mark.db(transaction=True)
async def test_5_a_real_commit_test_sees_it(client):
    assert (await client.get("/users")).json() == ["admin@example.com"]
""",
}


# A PostgreSQL-only project (the larger template of issue 19): ARRAY columns and now() defaults,
# which SQLite cannot create. It says so once, in its ini file (testsupport_databases).
POSTGRES_ONLY_APP = {
    **MODULE_GLOBAL_APP,
    "app/models.py": MODULE_GLOBAL_APP["app/models.py"]
    .replace(
        "    email: Mapped[str] = mapped_column(String(100), unique=True)\n",
        "    email: Mapped[str] = mapped_column(String(100), unique=True)\n"
        '    tags: Mapped[list[str]] = mapped_column(ARRAY(String), server_default="{}")\n'
        "    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())\n",
    )
    .replace(
        "from sqlalchemy import String\n",
        "from datetime import datetime\n\nfrom sqlalchemy import DateTime, String, func\n"
        "from sqlalchemy.dialects.postgresql import ARRAY\n",
    ),
    "test_columns.py": """
from sqlalchemy import select

from app.models import User


async def test_postgres_defaults(db_session):
    db_session.add(User(email="a@x"))
    await db_session.commit()
    user = await db_session.scalar(select(User))
    assert user.tags == [] and user.created is not None
""",
}

# Per-test and per-module choices, in a project that runs on every target.
TARGET_MARKS = """
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.db(databases="postgres")


async def test_module_mark(db_session):
    assert await db_session.scalar(text("SELECT version()"))  # PostgreSQL's


@pytest.mark.db(databases=["sqlite"])
async def test_own_mark_wins(db_session):
    assert await db_session.scalar(text("SELECT sqlite_version()"))


@pytest.mark.db(databases=["sqlite", "postgres"])
async def test_both(db_session):
    pass
"""


# The small template of issue 19: the app accepts its own host only.
TRUSTED_HOST_APP = {
    **MODULE_GLOBAL_APP,
    "app/main.py": MODULE_GLOBAL_APP["app/main.py"]
    .replace(
        "app = FastAPI()",
        'app = FastAPI()\napp.add_middleware(TrustedHostMiddleware, allowed_hosts=["api.example.com"])',
    )
    .replace(
        "from fastapi import", "from fastapi.middleware.trustedhost import TrustedHostMiddleware\nfrom fastapi import"
    ),
}


# A suite as pytest-asyncio left it: its marks, per test and per module, and an async autouse
# fixture (its conftest's) that sync tests used too.
ASYNCIO_MARKED_TESTS = """
import pytest

pytestmark = pytest.mark.asyncio


@pytest.mark.asyncio
async def test_marked(client):
    assert (await client.get("/items")).json() == []


@pytest.mark.asyncio(loop_scope="session")
async def test_marked_with_a_loop_scope(bare_client):
    assert (await bare_client.get("/ping")).json() == {"ok": True}
"""
ASYNC_AUTOUSE_CONFTEST = """
import pytest


@pytest.fixture(autouse=True)
async def reset_caches():
    yield
"""
