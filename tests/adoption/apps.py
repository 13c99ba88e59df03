"""Two outside apps, as files for pytester, and the documented configuration for each (docs/adoption.md).

``factory``: a small app with its own models, built by a factory whose lifespan makes its own
sessionmaker unless given one, with Alembic migrations (env.py shares the connection it is handed).
``module_global``: an app object whose engine and sessionmaker are module globals built from
settings at import time, as in the FastAPI full-stack template; its schema from the models.
Neither has a conftest.py: the documented ini keys are all the glue.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def marked_blocks(name: str, text: str) -> list[str]:
    """Every fenced block after ``<!-- adoption: NAME -->`` in ``text``, verbatim."""
    return re.findall(rf"<!-- adoption: {re.escape(name)} -->\s*```\w*\n(.*?)```", text, re.DOTALL)


def readme_block(name: str) -> str:
    """The fenced block after ``<!-- adoption: NAME -->`` in the documentation (docs/*.md: the
    adoption blocks on adoption.md, the recipes on their topic's page), verbatim. Exactly one page
    holds it (README.md repeats the factory block: tests/adoption/test_docs.py)."""
    pages = sorted(DOCS.glob("*.md"))
    found = [(page.name, block) for page in pages for block in marked_blocks(name, page.read_text())]
    assert len(found) == 1, f"docs/*.md must hold one block marked <!-- adoption: {name} -->, found it in {found}"
    return found[0][1]


FACTORY_APP = {
    "notes_app/__init__.py": "",
    "notes_app/models.py": """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
""",
    "notes_app/db.py": """
import os

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine


def make_engine():
    return create_async_engine(os.environ.get("NOTES_DATABASE_URL", "sqlite+aiosqlite:///production.db"))


def make_sessionmaker(engine):
    return async_sessionmaker(engine, expire_on_commit=False)
""",
    "notes_app/main.py": """
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from notes_app.db import make_engine, make_sessionmaker
from notes_app.models import Item


class ItemIn(BaseModel):
    name: str


async def get_db(request: Request):
    async with request.app.state.sessionmaker() as session:
        yield session


def create_app(engine=None, sessionmaker=None):
    @asynccontextmanager
    async def lifespan(app):
        app_engine = engine or make_engine()
        app.state.sessionmaker = sessionmaker or make_sessionmaker(app_engine)
        yield
        if engine is None:
            await app_engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/items", status_code=201)
    async def create_item(body: ItemIn, db=Depends(get_db)):
        item = Item(name=body.name)
        db.add(item)
        try:
            await db.commit()
        except IntegrityError:
            await db.rollback()
            raise HTTPException(409, "taken") from None
        return {"id": item.id, "name": item.name}

    @app.get("/items")
    async def list_items(db=Depends(get_db)):
        return [item.name for item in await db.scalars(select(Item).order_by(Item.id))]

    @app.get("/ping")
    async def ping():
        return {"ok": True}

    return app
""",
    "alembic.ini": """
[alembic]
script_location = %(here)s/migrations
""",
    "migrations/env.py": """
import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from notes_app.models import Base

config = context.config


def do_run_migrations(connection):
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations():
    engine = create_async_engine(config.get_main_option("sqlalchemy.url"))
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    do_run_migrations(connection)
else:
    asyncio.run(run_async_migrations())
""",
    "migrations/versions/0001_items.py": """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False, unique=True),
    )


def downgrade():
    op.drop_table("items")
""",
    "test_items.py": """
from sqlalchemy import func, select

from notes_app.models import Item


async def test_1_handlers_commit_and_roll_back(client, db_session):
    assert (await client.post("/items", json={"name": "a"})).status_code == 201
    assert (await client.post("/items", json={"name": "a"})).status_code == 409
    assert (await client.post("/items", json={"name": "b"})).status_code == 201
    assert (await client.get("/items")).json() == ["a", "b"]
    assert await db_session.scalar(select(func.count()).select_from(Item)) == 2


async def test_2_the_app_sees_the_tests_commits(client, db_session):
    db_session.add(Item(name="mine"))
    await db_session.commit()
    assert (await client.get("/items")).json() == ["mine"]


async def test_3_nothing_is_left(client):
    assert (await client.get("/items")).json() == []


async def test_without_a_database(bare_client):
    assert (await bare_client.get("/ping")).json() == {"ok": True}
""",
}

MODULE_GLOBAL_APP = {
    "app/__init__.py": "",
    "app/core/__init__.py": "",
    "app/core/config.py": """
import os


class Settings:
    DATABASE_URL = os.environ.get("APP_DATABASE_URL", "sqlite+aiosqlite:///production.db")


settings = Settings()
""",
    "app/core/db.py": """
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.core.config import settings

engine = create_async_engine(settings.DATABASE_URL)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
""",
    "app/models.py": """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100), unique=True)
""",
    "app/deps.py": """
from app.core.db import SessionLocal


async def get_db():
    async with SessionLocal() as session:
        yield session
""",
    "app/main.py": """
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.deps import get_db
from app.models import User


class UserIn(BaseModel):
    email: str


app = FastAPI()


@app.post("/users", status_code=201)
async def create_user(body: UserIn, db=Depends(get_db)):
    user = User(email=body.email)
    db.add(user)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(409, "taken") from None
    # No refresh: the app's sessions do not expire on commit (with SQLAlchemy's default they would,
    # and reading user.email here would be a lazy load: MissingGreenlet).
    return {"id": user.id, "email": user.email}


@app.get("/users")
async def list_users(db=Depends(get_db)):
    return [user.email for user in await db.scalars(select(User).order_by(User.id))]


@app.get("/ping")
async def ping():
    return {"ok": True}
""",
    "test_users.py": """
from sqlalchemy import func, select

from app.models import User


async def test_1_handlers_commit_and_roll_back(client, db_session):
    assert (await client.post("/users", json={"email": "a@x"})).status_code == 201
    assert (await client.post("/users", json={"email": "a@x"})).status_code == 409
    assert (await client.get("/users")).json() == ["a@x"]
    assert await db_session.scalar(select(func.count()).select_from(User)) == 1


async def test_2_nothing_is_left(client, count_queries):
    with count_queries() as queries:
        assert (await client.get("/users")).json() == []
    assert queries.count == 1


async def test_without_a_database(bare_client):
    assert (await bare_client.get("/ping")).json() == {"ok": True}
""",
}


def write(pytester: pytest.Pytester, files: dict[str, str], ini: str) -> None:
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    pytester.makepyprojecttoml(ini)
